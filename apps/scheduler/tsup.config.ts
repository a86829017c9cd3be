import { execFileSync } from "node:child_process"
import { defineConfig } from "tsup"

// The production bundle (README, "Deploying"): the app and the `migrate` CLI. Internal packages
// ship TypeScript sources, so they are bundled in; every npm package stays external, and
// `dist/package.json` (scripts/bundle-manifest.mjs) lists them at the versions installed here.
export default defineConfig({
  entry: {
    main: "src/main.ts",
    migrate: "../../packages/repository/src/bin/migrate.ts"
  },
  format: ["esm"],
  platform: "node",
  target: "node20",
  sourcemap: true,
  clean: true,
  noExternal: [/^@clinic\//],
  skipNodeModulesBundle: true,
  metafile: true,
  onSuccess: async () => {
    execFileSync(process.execPath, ["../../scripts/bundle-manifest.mjs"], { stdio: "inherit" })
  }
})
