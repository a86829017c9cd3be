import { defineConfig } from "tsup"
import { bundle } from "../../tsup.shared.js"

// The production bundle (README, "Deploying"): the app and the `migrate` CLI.
export default defineConfig(bundle({
  main: "src/main.ts",
  migrate: "../../packages/repository/src/bin/migrate.ts"
}, { manifest: true }))
