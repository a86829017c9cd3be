/**
 * @clinic/queue (TaskStore.layerPg, Worker) under the common load. The task table and its
 * migrations are the application's own; the worker keeps its defaults (poll 1 s, lease 30 s,
 * wake-ups on LISTEN/NOTIFY).
 */
import { Database, Migrations } from "@clinic/repository"
import { SqlClient } from "@effect/sql"
import { Effect, Exit, Layer, Logger, LogLevel, Redacted, Schema, Scope } from "effect"
import * as Registry from "../../src/Registry.js"
import * as Task from "../../src/Task.js"
import * as TaskQueue from "../../src/TaskQueue.js"
import { TaskStore } from "../../src/TaskStore.js"
import * as Worker from "../../src/Worker.js"
import { load, measure, Probe, report } from "./common.js"

const config = load()

// Counts claim statements in the latency phase (the probe's reset starts it): ideally one per
// task, however many slots idle (a notification wakes one slot, not all of them).
let claims = 0
const probe = new (class extends Probe {
  override reset() {
    super.reset()
    claims = 0
  }
})()

const noop = Task.make({
  name: "bench.noop",
  queue: "bench",
  payload: Schema.Struct({ t: Schema.Number }),
  handler: ({ t }) => Effect.sync(() => probe.onStart(t))
})

const program = Effect.gen(function*() {
  const registry = yield* Registry.make({ tasks: [noop], queues: [{ name: "bench", concurrency: config.concurrency }] })
  const context = yield* Effect.context<TaskStore | SqlClient.SqlClient>()
  const run = <A, E>(effect: Effect.Effect<A, E, TaskStore | SqlClient.SqlClient>) =>
    Effect.runPromise(Effect.provide(effect, context))
  const workers = yield* Scope.make()
  const result = yield* Effect.promise(() =>
    measure({
      load: config,
      probe,
      // Batches of 1,000, as graphile-worker's addJobs and pg-boss's insert are given.
      preload: async (count) => {
        for (let from = 0; from < count; from += 1000) {
          await run(TaskQueue.enqueueMany(
            noop,
            Array.from({ length: Math.min(1000, count - from) }, () => ({ payload: { t: 0 } }))
          ))
        }
      },
      startWorkers: () => run(Effect.asVoid(Worker.make(registry).pipe(Scope.extend(workers)))),
      enqueueOne: (t) => run(TaskQueue.enqueue(noop, { t })),
      verify: (expected) =>
        run(Effect.gen(function*() {
          yield* Scope.close(workers, Exit.void)
          const sql = yield* SqlClient.SqlClient
          const statuses = yield* sql<{ status: string; n: number }>`
            SELECT status, count(*)::int AS n FROM tasks GROUP BY status ORDER BY status`.pipe(Effect.orDie)
          const succeeded = statuses.find((row) => row.status === "succeeded")?.n ?? 0
          return succeeded === expected && statuses.length === 1
            ? undefined
            : `task statuses ${JSON.stringify(statuses)}, expected ${expected} succeeded`
        }))
    })
  )
  return result
})

const counting = Layer.effect(
  TaskStore,
  Effect.map(TaskStore, (store) =>
    TaskStore.of({
      ...store,
      claim: (queue, lease, limit) =>
        Effect.tap(store.claim(queue, lease, limit), () =>
          Effect.sync(() => {
            claims++
          }))
    }))
)

const database = Database.clientLayer(Redacted.make(config.databaseUrl), { maxConnections: config.poolSize })
const result = await Effect.runPromise(
  program.pipe(
    Effect.provide(
      counting.pipe(
        Layer.provide(TaskStore.layerPg),
        Layer.provideMerge(Migrations.layer),
        Layer.provideMerge(database)
      )
    ),
    Effect.scoped,
    Logger.withMinimumLogLevel(LogLevel.Warning)
  )
)
report({ ...result, claimsPerTask: claims / result.latencyTasks })
