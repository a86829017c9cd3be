// Self time of a V8 `.cpuprofile` (from `node --cpu-prof`) by area of the code, then its hottest
// functions: `pnpm exec tsx bench/profile-summary.ts file.cpuprofile [top] [skip seconds] [window regex]`.
// Idle time is left out of the percentages, so they are shares of the time the process was working;
// the first `skip` seconds (start-up, module loading) are left out altogether. With `window regex`,
// only the samples from the first to the last whose stack holds a frame whose function name or file
// matches it are counted (e.g. `multipasta` for an upload: start-up and the requests around it are
// left out). A native frame (no file) that no rule names is counted in the area of its nearest
// JavaScript caller outside node's own wrappers (`indexOfBuffer` under multipasta is parsing).
import * as Fs from "node:fs"

const [file, topArg] = process.argv.slice(2)
const [, , skipArg, windowArg] = process.argv.slice(2)
const top = Number(topArg ?? 25)
const skipMicros = Number(skipArg ?? 0) * 1e6
interface ProfileNode {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
  readonly children?: ReadonlyArray<number>
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
  // The upload path: parsing, hashing, the store's checks, writes to disk, reads from the socket.
  ["multipart parsing (multipasta)", (u) => /\/multipasta\/|http\/src\/MultipartBody/.test(u)],
  ["SHA-256 hashing", (u) => /^node:internal\/crypto\/hash/.test(u)],
  [
    "audio checks / store loop (@clinic/recordings)",
    (u) => /packages\/recordings\/src\/(RecordingStore|AudioValidation|UploadForm)|storage\/src\/FileSignature/.test(u)
  ],
  [
    "fs writes (write stream, fsync)",
    (u, f) =>
      /^node:internal\/fs\/|^node:fs$|storage\/src\/LocalFileStore/.test(u) ||
      (u === "" && /^(writeBuffers|writeBuffer|fsync)$/.test(f))
  ],
  [
    "socket reads / HTTP parser",
    (u) =>
      /^node:(internal\/stream_base_commons|_http_common|_http_incoming|_http_server|internal\/js_stream_socket)/.test(
        u
      )
  ],
  ["node Readable/Writable buffering", (u) => /^node:internal\/streams\//.test(u)],
  [
    "Effect stream / channel",
    (u) =>
      /effect\/dist\/\w+\/internal\/(stream|channel|sink)|effect\/dist\/\w+\/(Stream|Channel|Chunk)\.js|platform-node-shared\/dist\/\w+\/internal\/stream/
        .test(u)
  ],
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
const parents = new Map<number, number>()
for (const n of profile.nodes) for (const child of n.children ?? []) parents.set(child, n.id)
const windowPattern = windowArg === undefined ? undefined : new RegExp(windowArg)
const inWindow = new Map<number, boolean>()
const stackMatches = (id: number): boolean => {
  const known = inWindow.get(id)
  if (known !== undefined) return known
  const { functionName, url } = nodes.get(id)!.callFrame
  const parent = parents.get(id)
  const matches = windowPattern!.test(functionName) || windowPattern!.test(url ?? "") ||
    (parent !== undefined && stackMatches(parent))
  inWindow.set(id, matches)
  return matches
}
const times: Array<number> = []
let clock = 0
for (const delta of profile.timeDeltas) times.push(clock += delta)
let from = skipMicros
let to = Number.POSITIVE_INFINITY
if (windowPattern !== undefined) {
  const matching = profile.samples.flatMap((sample, i) => stackMatches(sample) ? [times[i]!] : [])
  if (matching.length === 0) throw new Error(`no sample's stack matches ${windowArg}`)
  from = Math.max(from, matching[0]!)
  to = matching[matching.length - 1]!
}
const self = new Map<number, number>()
for (let i = 0; i < profile.samples.length; i++) {
  if (times[i]! < from || times[i]! > to) continue
  const sample = profile.samples[i]!
  self.set(sample, (self.get(sample) ?? 0) + (profile.timeDeltas[i] ?? 0))
}
/** The area of a frame; a native frame no rule names counts in its nearest JavaScript caller's. */
const areaOf = (id: number): string => {
  const { functionName, url = "" } = nodes.get(id)!.callFrame
  const area = areas.find(([, test]) => test(url, functionName || "(anonymous)"))![0]
  // `writeBuffer(s)` is also the binding of fs writes: under fs it is not a socket.
  if (area === "socket writes (syscalls)" && callerArea(id) === "fs writes (write stream, fsync)") {
    return "fs writes (write stream, fsync)"
  }
  if (area !== "native / builtins") return area
  return callerArea(id) ?? area
}
/** The area of the nearest JavaScript caller outside node's own wrappers (or inside, if none). */
const callerArea = (id: number): string | undefined => {
  // Past node's own wrappers (`Buffer.indexOf` in node:buffer) to the code that called them.
  let fallback: string | undefined
  for (let parent = parents.get(id); parent !== undefined; parent = parents.get(parent)) {
    if ((nodes.get(parent)!.callFrame.url ?? "") === "") continue
    const area = areaOf(parent)
    if (area !== "other node internals") return area
    fallback ??= area
  }
  return fallback
}
const byArea = new Map<string, number>()
const byFunction = new Map<string, number>()
let working = 0
for (const [id, micros] of self) {
  const { callFrame } = nodes.get(id)!
  const url = callFrame.url ?? ""
  const name = callFrame.functionName || "(anonymous)"
  const area = areaOf(id)
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
  `${file}\n${
    windowPattern === undefined ? "" : `window ${(from / 1e6).toFixed(2)}-${(to / 1e6).toFixed(2)} s (/${windowArg}/)\n`
  }working ${(working / 1e6).toFixed(2)} s, idle ${((byArea.get("idle") ?? 0) / 1e6).toFixed(2)} s\n`
)
console.log("| area | self time | share of working time |\n| --- | ---: | ---: |")
for (const [area, micros] of [...byArea].filter(([a]) => a !== "idle").sort((a, b) => b[1] - a[1])) {
  console.log(`| ${area} | ${(micros / 1e3).toFixed(0)} ms | ${pct(micros)} |`)
}
console.log(`\ntop ${top} functions by self time:`)
for (const [key, micros] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`${pct(micros).padStart(6)}  ${key}`)
}
