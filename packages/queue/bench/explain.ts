/**
 * `EXPLAIN (ANALYZE, BUFFERS)` of every statement the Postgres store sends on the hot paths
 * (enqueue, claim, complete), taken from the store itself (an `@effect/sql` statement transformer),
 * against a backlog of BENCH_EXPLAIN_TASKS (default 5000) due tasks on an embedded Postgres. Each
 * statement is explained in a transaction that is rolled back, then run for real, so the plans
 * follow the same sequence of states as a worker would.
 *
 * BENCH_EXPLAIN_BATCH (default 32): the batch size of `enqueueMany` and `claim`.
 */
import { Database, Migrations } from "@clinic/repository"
import { explained } from "@clinic/repository/testing/Explain"
import { query, server, withClient } from "@clinic/repository/testing/TestServer"
import { SqlClient } from "@effect/sql"
import { DateTime, Effect, Layer, Logger, LogLevel, Redacted, Schema } from "effect"
import * as Task from "../src/Task.js"
import * as TaskQueue from "../src/TaskQueue.js"
import { TaskStore } from "../src/TaskStore.js"

const tasks = Number(process.env.BENCH_EXPLAIN_TASKS ?? 5_000)
const batch = Number(process.env.BENCH_EXPLAIN_BATCH ?? 32)

const noop = Task.make({
  name: "bench.noop",
  queue: "bench",
  payload: Schema.Struct({ t: Schema.Number }),
  handler: () => Effect.void
})

const program = Effect.gen(function*() {
  // The test infrastructure's scratch server: a temporary embedded Postgres, gone with the scope.
  const adminUrl = yield* server
  yield* withClient(adminUrl, (client) => query(client, "CREATE DATABASE queue_explain"))
  const url = new URL(adminUrl)
  url.pathname = "/queue_explain"
  const layer = TaskStore.layerPg.pipe(
    Layer.provideMerge(Migrations.layer),
    Layer.provideMerge(Database.clientLayer(Redacted.make(url.toString()), { maxConnections: 2 }))
  )
  yield* Effect.gen(function*() {
    const store = yield* TaskStore
    const sql = yield* SqlClient.SqlClient
    yield* Effect.forEach(Array.from({ length: tasks }), () => TaskQueue.enqueue(noop, { t: 0 }), {
      concurrency: 2,
      discard: true
    })
    yield* sql`VACUUM ANALYZE tasks`
    console.log(`# ${tasks} due tasks in queue "bench"`)
    yield* explained("enqueue", TaskQueue.enqueue(noop, { t: 1 }))
    const now = yield* DateTime.now
    const lease = { leaseId: crypto.randomUUID(), now, until: DateTime.add(now, { seconds: 30 }) }
    const one = yield* explained("claim 1", store.claim("bench", lease, 1))
    yield* explained("complete 1", store.complete(one.map(({ id }) => ({ id, leaseId: lease.leaseId })), now))
    const many = yield* explained(`claim ${batch}`, store.claim("bench", lease, batch))
    yield* explained(
      `complete ${batch}`,
      store.complete(many.map(({ id }) => ({ id, leaseId: lease.leaseId })), now)
    )
    yield* explained(
      `enqueueMany ${batch}`,
      TaskQueue.enqueueMany(noop, Array.from({ length: batch }, (_, t) => ({ payload: { t } })))
    )
  }).pipe(Effect.provide(layer))
}).pipe(Effect.scoped, Logger.withMinimumLogLevel(LogLevel.Warning))

Effect.runPromise(program).then(() => process.exit(0), (error) => {
  console.error(error)
  process.exit(1)
})
