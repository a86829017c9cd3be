/**
 * @clinic/queue (TaskStore.layerPg, Worker) under the common load. The task table and its
 * migrations are the application's own; the worker keeps its defaults (poll 1 s, lease 30 s,
 * wake-ups on LISTEN/NOTIFY).
 */
import { Database, Migrations } from "@clinic/repository"
import { Effect, Exit, Layer, Logger, LogLevel, Redacted, Schema, Scope } from "effect"
import * as Registry from "../../src/Registry.js"
import * as Task from "../../src/Task.js"
import * as TaskQueue from "../../src/TaskQueue.js"
import { TaskStore } from "../../src/TaskStore.js"
import * as Worker from "../../src/Worker.js"
import { load, measure, Probe, report } from "./common.js"

const config = load()

// Counts claims that came back empty in the latency phase (the probe's reset starts it): with N
// slots idle, one enqueue's notification wakes them all, and all but one find nothing.
let claims = 0
let emptyClaims = 0
const probe = new (class extends Probe {
  override reset() {
    super.reset()
    claims = 0
    emptyClaims = 0
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
  const context = yield* Effect.context<TaskStore>()
  const run = <A, E>(effect: Effect.Effect<A, E, TaskStore>) => Effect.runPromise(Effect.provide(effect, context))
  const workers = yield* Scope.make()
  const result = yield* Effect.promise(() =>
    measure({
      load: config,
      probe,
      // No batch enqueue exists; enqueues in parallel on the pool instead.
      preload: (count) =>
        run(Effect.forEach(
          Array.from({ length: count }),
          () => TaskQueue.enqueue(noop, { t: 0 }),
          { concurrency: config.poolSize, discard: true }
        )),
      startWorkers: () => run(Effect.asVoid(Worker.make(registry).pipe(Scope.extend(workers)))),
      enqueueOne: (t) => run(TaskQueue.enqueue(noop, { t }))
    })
  )
  yield* Scope.close(workers, Exit.void)
  return result
})

const counting = Layer.effect(
  TaskStore,
  Effect.map(TaskStore, (store) =>
    TaskStore.of({
      ...store,
      claim: (queue, lease, limit) =>
        Effect.tap(store.claim(queue, lease, limit), (claimed) =>
          Effect.sync(() => {
            claims++
            if (claimed.length === 0) emptyClaims++
          }))
    }))
)

const database = Database.clientLayer(Redacted.make(config.databaseUrl), { maxConnections: config.poolSize })
const result = await Effect.runPromise(
  program.pipe(
    Effect.provide(
      counting.pipe(Layer.provide(TaskStore.layerPg), Layer.provide(Migrations.layer), Layer.provide(database))
    ),
    Effect.scoped,
    Logger.withMinimumLogLevel(LogLevel.Warning)
  )
)
report({ ...result, emptyClaimsPerTask: emptyClaims / (claims - emptyClaims) })
