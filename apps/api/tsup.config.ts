import { defineConfig } from "tsup"
import { bundle } from "../../tsup.shared.js"

// The production bundle (README, "Deploying"): the app and its CLIs.
export default defineConfig(bundle({
  main: "src/main.ts",
  "create-admin": "src/bin/create-admin.ts",
  migrate: "../../packages/repository/src/bin/migrate.ts"
}, { manifest: true }))
