import * as Path from "node:path"
import { defineConfig } from "vitest/config"
import { withPostgres } from "./vitest.shared.js"

const repository = Path.join(import.meta.dirname, "packages/repository")

/**
 * The whole suite in one vitest run (`pnpm test`): every package's and app's tests as one project,
 * so Postgres starts and migrates its template once (not once per package), and each worker imports
 * `effect` and the workspace sources once (`isolate: false`), not once per test file.
 */
export default defineConfig({
  test: {
    ...withPostgres.test,
    include: ["{packages,apps}/*/test/**/*.test.ts"],
    // The globalSetup runs in vitest's own process and resolves its imports from the root: the
    // repository package's, where its dependencies are installed; tests are found from `dir`.
    root: repository,
    dir: import.meta.dirname,
    // As many workers as the pool may have, and never fewer: with `minWorkers` below `maxWorkers`,
    // tinypool scaled idle workers down near a run's end, and with three workers it ended the run
    // while two files were still running ("Terminating worker thread", four runs out of four).
    maxWorkers: 2,
    minWorkers: 2,
    // Effect allocates many short-lived objects: a young generation four times the default's
    // (16 MiB) halves how often the workers collect it, 3 of their 51 s of CPU in a run.
    poolOptions: { forks: { execArgv: ["--max-semi-space-size=64"] } },
    // `pnpm test:cpu`: each test file's CPU time, to see where the run's time goes.
    setupFiles: process.env.CLINIC_TEST_CPU_FILE ? [Path.join(import.meta.dirname, "scripts/test-cpu-setup.ts")] : []
  }
})
