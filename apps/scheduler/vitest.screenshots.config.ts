import { defineConfig } from "vitest/config"
import { withPostgres } from "../../vitest.shared.js"

/** `pnpm --filter @clinic/scheduler screenshots`: the dashboard's pictures in docs/, not a test. */
export default defineConfig({ test: { ...withPostgres.test, include: ["test/Screenshots.shot.ts"] } })
