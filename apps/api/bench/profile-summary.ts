// Self time of a V8 `.cpuprofile` (from `node --cpu-prof`) by area of the code, then its hottest
// functions: `pnpm exec tsx bench/profile-summary.ts file.cpuprofile [top] [skip seconds]`. Idle time is
// left out of the percentages, so they are shares of the time the process was working; the first
// `skip` seconds (start-up, module loading) are left out altogether.
import * as Fs from "node:fs"

const [file, topArg] = process.argv.slice(2)
const [, , skipArg] = process.argv.slice(2)
const top = Number(topArg ?? 25)
const skipMicros = Number(skipArg ?? 0) * 1e6
interface ProfileNode {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
}
const profile = JSON.parse(Fs.readFileSync(file, "utf8")) as {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

// First match wins: specific files before the packages that hold them.
type Test = (url: string, name: string) => boolean
const areas: ReadonlyArray<readonly [string, Test]> = [
  ["idle", (_, f) => f === "(idle)"],
  ["gc", (_, f) => f === "(garbage collector)"],
  ["program (native, unattributed)", (_, f) => f === "(program)"],
  // Native frames have no file: the syscalls that send on sockets, and console output.
  [
    "socket writes (syscalls)",
    (u, f) => u === "" && /^(writev|writeBuffer|writeUtf8String|writeLatin1String)$/.test(f)
  ],
  [
    "logger / JSON",
    (u, f) =>
      (u === "" && f === "consoleCall") ||
      /effect\/dist\/\w+\/internal\/logger|Inspectable|foundation\/src\/Logging|\/Logger\.js/.test(u)
  ],
  [
    "spans / tracer",
    (u) => /effect\/dist\/\w+\/internal\/tracer|\/Tracer\.js|opentelemetry|foundation\/src\/Spans/.test(u)
  ],
  ["metrics", (u) => /effect\/dist\/\w+\/internal\/metric|http\/src\/Metrics/.test(u)],
  ["schema decode/encode", (u) => /effect\/dist\/\w+\/(ParseResult|Schema|SchemaAST)\.js/.test(u)],
  ["sql template / @effect/sql", (u) => /@effect\/sql\/|@effect\/sql-pg\//.test(u)],
  [
    "pg driver",
    (u) =>
      /node_modules\/(\.pnpm\/)?[^/]*\/?(pg|pg-protocol|pg-pool|pg-types|postgres-[a-z]+)\//.test(u) ||
      /\/pg(-protocol|-pool|-types)?@/.test(u)
  ],
  ["HttpApi / router / platform", (u) => /@effect\/platform\//.test(u)],
  ["platform-node (node:http glue)", (u) => /@effect\/platform-node/.test(u)],
  ["fiber runtime / effect core", (u) => /effect\/dist\//.test(u)],
  ["app code (@clinic)", (u) => /\/(apps|packages)\/[^/]+\/(src|bench)\//.test(u)],
  [
    "node:http / net / streams",
    (u) => /^node:(internal\/)?(_http|http|net|stream|internal\/streams|internal\/http)/.test(u)
  ],
  ["crypto", (u) => /^node:(internal\/)?crypto/.test(u)],
  ["other node internals", (u) => /^node:/.test(u)],
  ["native / builtins", (u) => u === ""],
  ["other", () => true]
]

const nodes = new Map(profile.nodes.map((n) => [n.id, n]))
const self = new Map<number, number>()
let elapsed = 0
for (let i = 0; i < profile.samples.length; i++) {
  const delta = profile.timeDeltas[i] ?? 0
  const sample = profile.samples[i]!
  elapsed += delta
  if (elapsed < skipMicros) continue
  self.set(sample, (self.get(sample) ?? 0) + delta)
}
const byArea = new Map<string, number>()
const byFunction = new Map<string, number>()
let working = 0
for (const [id, micros] of self) {
  const { callFrame } = nodes.get(id)!
  const url = callFrame.url ?? ""
  const name = callFrame.functionName || "(anonymous)"
  const area = areas.find(([, test]) => test(url, name))![0]
  byArea.set(area, (byArea.get(area) ?? 0) + micros)
  if (area !== "idle") {
    working += micros
    const key = `${name} ${url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*?\/(apps|packages)\//, "$1/")}:${
      callFrame.lineNumber + 1
    }`
    byFunction.set(key, (byFunction.get(key) ?? 0) + micros)
  }
}
const pct = (micros: number) => `${(100 * micros / working).toFixed(1)}%`
console.log(
  `${file}\nworking ${(working / 1e6).toFixed(2)} s, idle ${((byArea.get("idle") ?? 0) / 1e6).toFixed(2)} s\n`
)
console.log("| area | self time | share of working time |\n| --- | ---: | ---: |")
for (const [area, micros] of [...byArea].filter(([a]) => a !== "idle").sort((a, b) => b[1] - a[1])) {
  console.log(`| ${area} | ${(micros / 1e3).toFixed(0)} ms | ${pct(micros)} |`)
}
console.log(`\ntop ${top} functions by self time:`)
for (const [key, micros] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`${pct(micros).padStart(6)}  ${key}`)
}
