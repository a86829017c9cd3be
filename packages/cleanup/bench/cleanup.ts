import { OutboxStore } from "@clinic/events"
import { projectRoot } from "@clinic/foundation"
/**
 * Cleanup of a large backlog of expired sessions (10% with media) by the batched job, against one
 * `DELETE ... WHERE expires_at < $now` as the baseline, on the same embedded Postgres in one run.
 * Size: BENCH_SESSIONS (default 1,000,000); first batch: CLEANUP_BATCH_SIZE (default 1000).
 */
import { Database, Migrations } from "@clinic/repository"
import { AuthSessionRepo } from "@clinic/repository"
import * as Repositories from "@clinic/repository/Repositories"
import { databaseUrl, query, server, withClient } from "@clinic/repository/testing/TestServer"
import { loadAverage, machine, writeSection } from "@clinic/testing/BenchReport"
import { NodeRuntime } from "@effect/platform-node"
import { SqlClient } from "@effect/sql"
import { Duration, Effect, Layer, Redacted } from "effect"
import { AuthSessionMediaStore } from "../src/AuthSessionMediaStore.js"
import { CleanupConfig } from "../src/CleanupConfig.js"
import { SessionCleanup } from "../src/SessionCleanup.js"
import { seed } from "./seed.js"

const sessions = Number(process.env.BENCH_SESSIONS ?? 1_000_000)
const batchSize = Number(process.env.CLEANUP_BATCH_SIZE ?? 1000)

const count = Effect.flatMap(
  SqlClient.SqlClient,
  (sql) =>
    sql<{ n: number }>`SELECT (SELECT count(*) FROM auth_sessions) + (SELECT count(*) FROM auth_session_media) AS n`
      .pipe(
        Effect.map((rows) => rows[0].n)
      )
)

/**
 * When each batch's statement starts, as the job runs it. A batch's transaction (statement, its
 * events, commit) ends before the next batch starts (media removal is a no-op here), so the gaps
 * between starts, and from the last start to the end of the run, bound each transaction's length.
 */
const timedRepo = (starts: Array<number>, sizes: Array<number>) =>
  Layer.effect(
    AuthSessionRepo,
    Effect.map(AuthSessionRepo, (base) =>
      AuthSessionRepo.of({
        ...base,
        deleteBatch: (selector, limit) =>
          Effect.suspend(() => {
            starts.push(performance.now())
            sizes.push(limit)
            return base.deleteBatch(selector, limit)
          })
      }))
  )

const countingMedia = Layer.succeed(
  AuthSessionMediaStore,
  AuthSessionMediaStore.of({ remove: (paths) => Effect.succeed({ removed: paths, failed: [] }) })
)

const program = Effect.gen(function*() {
  const loadBefore = loadAverage()
  const adminUrl = yield* server
  yield* withClient(adminUrl, (client) => query(client, "CREATE DATABASE clinic_bench"))
  const database = Database.clientLayer(Redacted.make(databaseUrl(adminUrl, "clinic_bench")), { maxConnections: 4 })
  const starts: Array<number> = []
  const sizes: Array<number> = []
  const cleanupLayer = SessionCleanup.Default.pipe(
    Layer.provide(timedRepo(starts, sizes)),
    Layer.provide(Layer.mergeAll(countingMedia, CleanupConfig.layerTest({ batchSize, timeBudget: Duration.hours(1) }))),
    Layer.provideMerge(Layer.merge(Repositories.layerPg, OutboxStore.layerPg))
  )

  return yield* Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const [version] = yield* sql<{ serverVersion: string }>`SHOW server_version`
    yield* Effect.log(`seeding ${sessions} expired sessions, ${sessions / 10} media rows`)
    let started = performance.now()
    yield* seed(sessions)
    yield* Effect.log(`seeded in ${((performance.now() - started) / 1000).toFixed(1)} s`)
    const rowsBefore = yield* count

    const cleanup = yield* SessionCleanup
    started = performance.now()
    const result = yield* cleanup.expiredSessions
    const ended = performance.now()
    const batchedSeconds = (ended - started) / 1000
    const batches = starts.map((start, i) => (starts[i + 1] ?? ended) - start)
    if (result.deletedSessions !== sessions || (yield* count) !== 0) {
      return yield* Effect.dieMessage(`batched cleanup left rows: ${JSON.stringify(result)}`)
    }
    const sorted = [...batches].sort((a, b) => a - b)
    const p = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]

    yield* seed(sessions)
    started = performance.now()
    yield* sql`DELETE FROM auth_sessions WHERE expires_at < ${new Date().toISOString()}`
    const baselineSeconds = (performance.now() - started) / 1000
    if ((yield* count) !== 0) return yield* Effect.dieMessage("baseline left rows")

    const body = `
## Cleanup of ${sessions.toLocaleString("en")} expired sessions (10% with media)

${machine(`PostgreSQL ${version.serverVersion}`, "pnpm bench (packages/cleanup: tsx bench/cleanup.ts)", loadBefore)}

| | time | rows/s (sessions) | longest transaction (statement, events, commit) |
| --- | --- | --- | --- |
| batched job (\`cleanupExpiredSessions\`, ${batches.length} batches, first ${batchSize} rows, then ${
      Math.min(...sizes).toLocaleString("en")
    } to ${Math.max(...sizes).toLocaleString("en")}: halved over 100 ms, doubled under 25 ms) | ${
      batchedSeconds.toFixed(1)
    } s | ${Math.round(sessions / batchedSeconds).toLocaleString("en")} | ${p(1).toFixed(0)} ms (p50 ${
      p(0.5).toFixed(0)
    } ms, p99 ${p(0.99).toFixed(0)} ms) |
| baseline: one \`DELETE ... WHERE expires_at < $now\` (media by cascade) | ${baselineSeconds.toFixed(1)} s | ${
      Math.round(sessions / baselineSeconds).toLocaleString("en")
    } | ${(baselineSeconds * 1000).toFixed(0)} ms (the whole delete) |

Rows removed per run: ${rowsBefore.toLocaleString("en")} (sessions + media rows). The batched job
took ${(batchedSeconds / baselineSeconds).toFixed(1)}x the single delete's time, but no lock is held
longer than one batch (at most ${
      p(1).toFixed(0)
    } ms here), so logins, the API and other replicas' cleaners never wait long, and
a run stops on its time budget; the single delete holds every row lock until it ends.
`
    yield* Effect.log(body)
    writeSection(projectRoot(), "cleanup", body)
  }).pipe(Effect.provide(cleanupLayer), Effect.provide(Migrations.layer), Effect.provide(database))
}).pipe(Effect.scoped)

NodeRuntime.runMain(program)
