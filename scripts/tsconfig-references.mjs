// Derives the TypeScript project references from the workspace's package.json files, so that the
// dependency graph is written down once (package.json) and `tsc -b` follows it. `pnpm typecheck`
// runs this first; it only rewrites a file whose references changed, and gives a new package its
// three tsconfig files.
//
// Why it matters: an import of `@clinic/x` resolves through node_modules to x's sources. If the
// importing project references x's project, tsc reads x's emitted declarations (x is checked once);
// if not, tsc silently compiles x's sources again inside the importer, which is what made the
// per-package `tsc --noEmit` slow.
//
// Per package: tsconfig.src.json (src/) references the src project of each @clinic dependency;
// tsconfig.test.json (test/, bench/, config files) references its own src, the root tools project
// and the src and test projects of each @clinic dependency or devDependency; tsconfig.json is the
// solution over both. The root tsconfig.json references every package.
import * as Fs from "node:fs"
import * as Path from "node:path"
import { stdout } from "node:process"

const root = Path.resolve(import.meta.dirname, "..")

const workspaceGlobs = Fs.readFileSync(Path.join(root, "pnpm-workspace.yaml"), "utf8")
  .split("\n")
  .map((line) => /^\s*-\s*["']?([\w.-]+)\/\*["']?\s*$/.exec(line)?.[1])
  .filter((dir) => dir !== undefined)

const packages = workspaceGlobs.flatMap((parent) =>
  Fs.readdirSync(Path.join(root, parent), { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && Fs.existsSync(Path.join(root, parent, entry.name, "package.json")))
    .map((entry) => {
      const dir = `${parent}/${entry.name}`
      return { dir, manifest: JSON.parse(Fs.readFileSync(Path.join(root, dir, "package.json"), "utf8")) }
    })
).sort((a, b) => a.dir.localeCompare(b.dir))

const dirOf = new Map(packages.map(({ dir, manifest }) => [manifest.name, dir]))
const workspaceDeps = (deps) => Object.keys(deps ?? {}).filter((name) => dirOf.has(name)).map((name) => dirOf.get(name))

/** JSON on one line with spaces, as the hand-written tsconfig files have it. */
const inline = (value) => {
  if (Array.isArray(value)) return `[${value.map(inline).join(", ")}]`
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).map(([key, v]) => `${JSON.stringify(key)}: ${inline(v)}`)
    return entries.length === 0 ? "{}" : `{ ${entries.join(", ")} }`
  }
  return JSON.stringify(value)
}

const format = (config) => {
  const lines = Object.entries(config).map(([key, value]) =>
    key === "references" && value.length > 0
      ? `  "references": [\n${value.map((ref) => `    ${inline(ref)}`).join(",\n")}\n  ]`
      : `  ${JSON.stringify(key)}: ${inline(value)}`
  )
  return `{\n${lines.join(",\n")}\n}\n`
}

const changed = []
/**
 * Sets `references` in a tsconfig file, keeping its other fields; creates it from `fresh` when it is
 * missing, or always with `replace` (a package's tsconfig.json is only ever the solution).
 */
const sync = (file, fresh, references, replace = false) => {
  const path = Path.join(root, file)
  const before = Fs.existsSync(path) ? Fs.readFileSync(path, "utf8") : undefined
  const config = before === undefined || replace ? fresh : JSON.parse(before)
  const after = format({ ...config, references: references.map((ref) => ({ path: ref })) })
  if (after !== before) {
    Fs.writeFileSync(path, after)
    changed.push(file)
  }
}

const base = "../../tsconfig.base.json"
for (const { dir, manifest } of packages) {
  const rel = (other) => Path.posix.relative(dir, other)
  const deps = workspaceDeps(manifest.dependencies)
  const testDeps = [...new Set([...deps, ...workspaceDeps(manifest.devDependencies)])].sort()
  sync(`${dir}/tsconfig.json`, { extends: base, include: [] }, ["tsconfig.src.json", "tsconfig.test.json"], true)
  if (manifest.scripts?.typecheck !== "tsc -b") {
    stdout.write(`${dir}/package.json: its "typecheck" script should be "tsc -b"\n`)
  }
  sync(
    `${dir}/tsconfig.src.json`,
    { extends: base, include: ["src"], compilerOptions: { outDir: "build" } },
    deps.map((other) => `${rel(other)}/tsconfig.src.json`)
  )
  sync(
    `${dir}/tsconfig.test.json`,
    { extends: base, include: ["test", "bench", "*.ts"], compilerOptions: { outDir: "build" } },
    [
      "tsconfig.src.json",
      Path.posix.relative(dir, "tsconfig.tools.json"),
      ...testDeps.flatMap((other) => [`${rel(other)}/tsconfig.src.json`, `${rel(other)}/tsconfig.test.json`])
    ]
  )
}
sync(
  "tsconfig.json",
  { extends: "./tsconfig.base.json", include: [] },
  ["tsconfig.tools.json", ...packages.map(({ dir }) => dir)]
)

if (changed.length > 0) stdout.write(`tsconfig references updated from package.json: ${changed.join(", ")}\n`)
