import { projectRoot } from "@clinic/foundation"
import { loadAverage, writeSection } from "@clinic/testing/BenchReport"
import { spawnNode } from "@clinic/testing/ChildProcess"
/**
 * `GET /auth/me` on embedded Postgres: the API app beside a bare `node:http` + `pg` server doing the
 * same queries, in one run on one database. Each server runs alone in its own process; autocannon
 * drives it from this one, on 127.0.0.1, for a bounded time. Results go to stdout and to the
 * `auth-me` section of docs/benchmarks.md.
 *
 *   pnpm --filter @clinic/api bench      (or `pnpm bench` at the root for every package)
 *   BENCH_DURATION=10 BENCH_CONNECTIONS=20 BENCH_ROUNDS=2 to change the load.
 */
import { Email } from "@clinic/domain"
import { Database, EmbeddedPostgres, Migrations } from "@clinic/repository"
import * as Repositories from "@clinic/repository/Repositories"
import { freePort } from "@clinic/repository/testing/TestServer"
import { FileStores, StorageConfig } from "@clinic/storage"
import autocannon from "autocannon"
import { Duration, Effect, Layer, Redacted, Schedule } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { ApiConfig } from "../src/ApiConfig.js"
import { Auth } from "../src/auth/Auth.js"

const DURATION = Number(process.env.BENCH_DURATION ?? 10)
const WARMUP = 3
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2)
const HERE = import.meta.dirname
// `BENCH_CPU_PROF_DIR=/some/dir` writes a V8 CPU profile of each server process there.
const profileArgs = process.env.BENCH_CPU_PROF_DIR
  ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF_DIR}`]
  : []

interface Target {
  readonly name: string
  readonly entry: string
  readonly env?: Record<string, string>
}

const targets: ReadonlyArray<Target> = [
  { name: "Effect API (HttpApi, repositories)", entry: "effect-server.ts" },
  { name: "Effect API as main.ts (error shape, request ids, access log)", entry: "app-server.ts" },
  { name: "node:http + pg (baseline)", entry: "baseline-server.ts" }
]

interface Row {
  readonly target: string
  readonly round: number
  readonly rps: number
  /** CPU time of the server process (user + system) during the measured load, per request. */
  readonly cpuMsPerRequest: number
  readonly p50: number
  readonly p99: number
  readonly requests: number
  readonly non2xx: number
  readonly errors: number
}

const tempDir = Effect.acquireRelease(
  Effect.promise(async () => {
    const dir = await Fs.mkdtemp(Path.join(Os.tmpdir(), "clinic-bench-"))
    // The embedded server runs as `postgres` when started by root and must reach the folder.
    await Fs.chmod(dir, 0o755)
    return dir
  }),
  (dir) => Effect.promise(() => Fs.rm(dir, { recursive: true, force: true }))
)

/** A server in its own process, stopped (SIGTERM, then SIGKILL) when the scope closes. */
const spawnServer = (target: Target, env: Record<string, string>) =>
  spawnNode([...profileArgs, "--import", "tsx", Path.join(HERE, target.entry)], {
    cwd: Path.join(HERE, ".."),
    env: { ...process.env, ...env, ...target.env }
  })

const waitUntilServing = (url: string, token: string) =>
  Effect.tryPromise((signal) => fetch(url, { headers: { authorization: `Bearer ${token}` }, signal })).pipe(
    // A server may accept connections a moment before its handler is attached; such a request is
    // never answered, so each attempt is bounded and aborted.
    Effect.timeout("2 seconds"),
    Effect.filterOrFail((response) => response.status === 200),
    Effect.retry(Schedule.spaced("200 millis").pipe(Schedule.upTo("60 seconds"))),
    Effect.orDie
  )

const load = (url: string, token: string, duration: number) =>
  Effect.promise(() =>
    autocannon({
      url,
      connections: CONNECTIONS,
      duration,
      headers: { authorization: `Bearer ${token}` }
    })
  )

const seed = Effect.gen(function*() {
  const auth = yield* Auth
  const email = Email.make("bench@clinic.test")
  const password = "benchmark password"
  yield* auth.register({ email, name: "Bench Therapist", password })
  const { token } = yield* auth.login(email, password, { userAgent: "bench", ip: "127.0.0.1" })
  return Redacted.value(token)
})

/**
 * User + system CPU seconds a process has used so far (`/proc/<pid>/stat`, in clock ticks of 10 ms).
 * Per request, it tells what the server itself spends, whatever else the shared machine runs.
 */
const cpuSeconds = (pid: number) =>
  Effect.promise(async () => {
    const stat = await Fs.readFile(`/proc/${pid}/stat`, "utf8")
    // The command name (field 2) may hold spaces; fields are counted after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return (Number(fields[11]) + Number(fields[12])) / 100
  })

const markdown = (rows: ReadonlyArray<Row>, started: Date, loadBefore: string, loadAfter: string) => {
  const cpus = Os.cpus()
  const lines = [
    "## `GET /auth/me`",
    "",
    `- Date: ${started.toISOString()}`,
    `- Machine: ${cpus[0]?.model ?? "unknown CPU"}, ${cpus.length} cores, ${
      Math.round(Os.totalmem() / 2 ** 30)
    } GiB RAM, ${Os.type()} ${Os.release()}, Node ${process.version}`,
    "- Command: `pnpm bench` (runs `apps/api/bench/auth-me.bench.ts`)",
    `- Load: autocannon in the bench process, ${CONNECTIONS} connections, ${WARMUP} s warm-up then ${DURATION} s ` +
    `measured per server and round, ${ROUNDS} rounds alternating the servers; each server alone in its own ` +
    "process with a pool of 10 connections to one embedded PostgreSQL 17 on the same machine.",
    "- Per request (both servers): session and its user in one query (a join) by SHA-256 of the token, " +
    "constant-time digest comparison, expiry and " +
    "idle checks, `last_active_at` touched at most once per 5 minutes, JSON response.",
    `- 1-minute load average before / after the run: ${loadBefore} / ${loadAfter}. On a shared machine other ` +
    "work competes for the same cores, so compare servers within a round rather than across runs.",
    "",
    "| server | round | requests/s | server CPU ms per request | p50 ms | p99 ms | requests | non-2xx | errors |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows.map((r) =>
      `| ${r.target} | ${r.round} | ${r.rps.toFixed(0)} | ${
        r.cpuMsPerRequest.toFixed(2)
      } | ${r.p50} | ${r.p99} | ${r.requests} | ${r.non2xx} | ${r.errors} |`
    )
  ]
  return lines.join("\n")
}

const program = Effect.gen(function*() {
  const started = new Date()
  const loadBefore = loadAverage()
  const dir = yield* tempDir
  const server = yield* EmbeddedPostgres.start({ dataDir: Path.join(dir, "pg"), port: yield* freePort })
  const databaseUrl = Redacted.value(server.url)
  process.env.CLINIC_AUTH_SESSION_MEDIA_DIR = Path.join(dir, "media")
  const token = yield* Effect.zipRight(Migrations.run, seed).pipe(
    Effect.provide(
      Auth.Default.pipe(
        Layer.provide(ApiConfig.Default),
        Layer.provide(FileStores.FileStores.layer.pipe(Layer.provide(StorageConfig.StorageConfig.layer))),
        Layer.provideMerge(Repositories.layerPg),
        Layer.provideMerge(Database.clientLayer(server.url, { maxConnections: 2 }))
      )
    )
  )

  const rows: Array<Row> = []
  for (let round = 1; round <= ROUNDS; round++) {
    for (const target of targets) {
      const port = yield* freePort
      const url = `http://127.0.0.1:${port}/auth/me`
      const row = yield* Effect.scoped(Effect.gen(function*() {
        const child = yield* spawnServer(target, { DATABASE_URL: databaseUrl, API_PORT: String(port) })
        yield* waitUntilServing(url, token)
        yield* load(url, token, WARMUP)
        const cpuBefore = yield* cpuSeconds(child.pid!)
        const result = yield* load(url, token, DURATION)
        const cpuUsed = (yield* cpuSeconds(child.pid!)) - cpuBefore
        // Figures only for real answers: a 401 or an error fails the run before any table is written.
        if (
          result.requests.total === 0 || result["2xx"] !== result.requests.total || result.errors + result.timeouts > 0
        ) {
          return yield* Effect.dieMessage(
            `${target.name}: ${result["2xx"]} of ${result.requests.total} answered 2xx ` +
              `(non-2xx ${result.non2xx}, errors ${result.errors}, timeouts ${result.timeouts})`
          )
        }
        return {
          target: target.name,
          round,
          rps: result.requests.average,
          cpuMsPerRequest: (1000 * cpuUsed) / result.requests.total,
          p50: result.latency.p50,
          p99: result.latency.p99,
          requests: result.requests.total,
          non2xx: result.non2xx,
          errors: result.errors + result.timeouts
        } satisfies Row
      }))
      yield* Effect.logInfo("measured").pipe(Effect.annotateLogs(row))
      rows.push(row)
    }
  }
  const report = markdown(rows, started, loadBefore, loadAverage())
  writeSection(projectRoot(), "auth-me", report)
  console.log(report)
}).pipe(Effect.scoped, Effect.timeout(Duration.minutes(10)))

Effect.runPromise(program).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
