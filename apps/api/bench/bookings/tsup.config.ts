import { defineConfig } from "tsup"

// The benchmarked Effect server is bundled like the app (`dist/main.js`), so that it runs on plain
// node without a TypeScript loader in the way.
export default defineConfig({
  entry: { "app-server": "bench/app-server.ts" },
  outDir: "bench/bookings/dist",
  format: ["esm"],
  platform: "node",
  target: "node20",
  clean: true,
  noExternal: [/^@clinic\//]
})
