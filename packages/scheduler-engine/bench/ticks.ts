import { projectRoot } from "@clinic/foundation"
/**
 * Tick lateness: 100 jobs on a one-second cron for one minute, on Postgres, one engine. Lateness is
 * the claim's start minus the tick's scheduled time, as recorded in the run history.
 * BENCH_TICK_JOBS (default 100), BENCH_TICK_SECONDS (default 60).
 */
import { Database, Migrations } from "@clinic/repository"
import { databaseUrl, query, server, withClient } from "@clinic/repository/testing/TestServer"
import { loadAverage, machine, writeSection } from "@clinic/testing/BenchReport"
import { NodeRuntime } from "@effect/platform-node"
import { SqlClient } from "@effect/sql"
import { Effect, Redacted } from "effect"
import * as Job from "../src/Job.js"
import * as JobSchedule from "../src/JobSchedule.js"
import { RunStore } from "../src/RunStore.js"
import { make } from "../src/SchedulerEngine.js"

const jobs = Number(process.env.BENCH_TICK_JOBS ?? 100)
const seconds = Number(process.env.BENCH_TICK_SECONDS ?? 60)

const program = Effect.gen(function*() {
  const loadBefore = loadAverage()
  const adminUrl = yield* server
  yield* withClient(adminUrl, (client) => query(client, "CREATE DATABASE clinic_bench"))
  const database = Database.clientLayer(Redacted.make(databaseUrl(adminUrl, "clinic_bench")), { maxConnections: 10 })
  return yield* Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const [version] = yield* sql<{ serverVersion: string }>`SHOW server_version`
    const engine = yield* make({
      jobs: Array.from(
        { length: jobs },
        (_, i) =>
          Job.make({
            name: `job-${String(i).padStart(3, "0")}`,
            schedule: JobSchedule.unsafeCron("* * * * * *"),
            run: Effect.void
          })
      ),
      replica: "bench"
    })
    yield* Effect.log(`${jobs} jobs every second for ${seconds} s`)
    yield* engine.start
    yield* Effect.sleep(`${seconds} seconds`)
    yield* engine.stop
    const rows = yield* sql<{ lateMs: number; outcome: string }>`
      SELECT extract(epoch FROM coalesce(started_at, finished_at) - scheduled_at) * 1000 AS late_ms, outcome
      FROM scheduler_runs`
    const late = rows.filter((r) => r.outcome === "succeeded").map((r) => Number(r.lateMs)).sort((a, b) => a - b)
    const p = (q: number) => late[Math.min(late.length - 1, Math.floor(q * late.length))]
    const skipped = rows.filter((r) => r.outcome === "skipped").length
    const body = `
## Tick lateness: ${jobs} jobs on a one-second cron for ${seconds} s

${
      machine(
        `PostgreSQL ${version.serverVersion}`,
        "pnpm bench (packages/scheduler-engine: tsx bench/ticks.ts)",
        loadBefore
      )
    }

| runs | skipped | lateness p50 | p99 | max |
| --- | --- | --- | --- | --- |
| ${late.length.toLocaleString("en")} (of ~${(jobs * seconds).toLocaleString("en")} ticks) | ${skipped} | ${
      p(0.5).toFixed(1)
    } ms | ${p(0.99).toFixed(1)} ms | ${p(1).toFixed(1)} ms |

Lateness = when the claim row was written (the run starts right after) minus the tick's scheduled
second; each tick is one transaction (advisory lock, claim insert) plus the end update, on a pool of
10 connections.
`
    yield* Effect.log(body)
    writeSection(projectRoot(), "ticks", body)
  }).pipe(Effect.scoped, Effect.provide(RunStore.layerPg), Effect.provide(Migrations.layer), Effect.provide(database))
}).pipe(Effect.scoped)

NodeRuntime.runMain(program)
