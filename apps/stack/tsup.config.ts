import { defineConfig } from "tsup"

// Internal packages ship TypeScript sources, so they are bundled in; everything from npm stays
// external and is loaded from node_modules at run time.
export default defineConfig({
  entry: ["src/main.ts"],
  format: ["esm"],
  platform: "node",
  target: "node20",
  sourcemap: true,
  clean: true,
  noExternal: [/^@clinic\//]
})
