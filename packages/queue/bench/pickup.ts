/**
 * Where the idle pickup time of @clinic/queue goes: with the workers idle, tasks are enqueued one
 * at a time (BENCH_PICKUP_TASKS, default 200, one every 20 ms, each after the previous started),
 * and each stage is stamped on one clock: the enqueue call, the insert statement's start and end,
 * the notification's arrival on a plain `pg` LISTEN connection and in the worker's stream, the
 * claim's start and end, and the handler's start. Prints the median and p90 of each step.
 *
 * BENCH_PICKUP_CONCURRENCY (default 8): the queue's slots. After 5,000 tasks drained, as in the
 * queue benchmark, so the table holds what it holds there.
 */
import { Database, Migrations } from "@clinic/repository"
import { query, server, withClient } from "@clinic/repository/testing/TestServer"
import { Effect, Exit, Layer, Logger, LogLevel, Redacted, Schema, Scope, Stream } from "effect"
import * as Registry from "../src/Registry.js"
import * as Task from "../src/Task.js"
import * as TaskQueue from "../src/TaskQueue.js"
import { NOTIFY_CHANNEL, TaskStore } from "../src/TaskStore.js"
import * as Worker from "../src/Worker.js"
import { now, percentile } from "./runners/common.js"

const count = Number(process.env.BENCH_PICKUP_TASKS ?? 200)
const concurrency = Number(process.env.BENCH_PICKUP_CONCURRENCY ?? 8)
const backlog = 5_000

type Stage =
  | "call"
  | "insertStart"
  | "insertEnd"
  | "pgNotified"
  | "streamNotified"
  | "claimStart"
  | "claimEnd"
  | "handler"
let current: Partial<Record<Stage, number>> = {}
const stamp = (stage: Stage) => {
  if (current[stage] === undefined) current[stage] = now()
}
let started: (() => void) | undefined
let draining = true
let drained = 0
let allDrained: (() => void) | undefined

const noop = Task.make({
  name: "bench.noop",
  queue: "bench",
  payload: Schema.Struct({ t: Schema.Number }),
  handler: ({ t }) =>
    Effect.sync(() => {
      if (t > 0) {
        stamp("handler")
        started?.()
      } else if (++drained === backlog) allDrained?.()
    })
})

const stamping = Layer.effect(
  TaskStore,
  Effect.map(TaskStore, (store) =>
    TaskStore.of({
      ...store,
      insert: (tasks) =>
        Effect.suspend(() => {
          if (!draining) stamp("insertStart")
          return Effect.tap(store.insert(tasks), () => Effect.sync(() => draining || stamp("insertEnd")))
        }),
      claim: (queue, lease, limit) =>
        Effect.suspend(() => {
          if (!draining) stamp("claimStart")
          return Effect.tap(store.claim(queue, lease, limit), (rows) =>
            Effect.sync(() => {
              if (!draining && rows.length > 0) stamp("claimEnd")
            }))
        }),
      notifications: Stream.tap(store.notifications, () => Effect.sync(() => draining || stamp("streamNotified")))
    }))
)

const program = Effect.gen(function*() {
  const adminUrl = yield* server
  yield* withClient(adminUrl, (client) => query(client, "CREATE DATABASE queue_pickup"))
  const url = new URL(adminUrl)
  url.pathname = "/queue_pickup"
  const layer = stamping.pipe(
    Layer.provide(TaskStore.layerPg),
    Layer.provideMerge(Migrations.layer),
    Layer.provideMerge(
      Database.clientLayer(Redacted.make(url.toString()), { maxConnections: Math.max(10, concurrency) })
    )
  )
  const rows = yield* withClient(url.toString(), (listener) =>
    Effect.gen(function*() {
      yield* query(listener, `LISTEN ${NOTIFY_CHANNEL}`)
      listener.on("notification", () => draining || stamp("pgNotified"))
      const registry = yield* Registry.make({ tasks: [noop], queues: [{ name: "bench", concurrency }] })
      for (let from = 0; from < backlog; from += 1000) {
        yield* TaskQueue.enqueueMany(noop, Array.from({ length: 1000 }, () => ({ payload: { t: 0 } })))
      }
      const done = new Promise<void>((resolve) => {
        allDrained = resolve
      })
      const workers = yield* Scope.make()
      yield* Worker.make(registry).pipe(Scope.extend(workers))
      yield* Effect.promise(() => done)
      yield* Effect.sleep("1 second")
      draining = false
      const context = yield* Effect.context<TaskStore>()
      const results: Array<Partial<Record<Stage, number>>> = []
      for (let i = 0; i < count; i++) {
        current = {}
        const handled = new Promise<void>((resolve) => {
          started = resolve
        })
        stamp("call")
        yield* Effect.promise(() => Effect.runPromise(Effect.provide(TaskQueue.enqueue(noop, { t: now() }), context)))
        yield* Effect.promise(() => handled)
        results.push(current)
        yield* Effect.sleep("20 millis")
      }
      yield* Scope.close(workers, Exit.void)
      return results
    }).pipe(Effect.provide(layer)))
  const step = (label: string, from: Stage, to: Stage) => {
    const values = rows.flatMap((row) =>
      row[from] !== undefined && row[to] !== undefined ? [row[to]! - row[from]!] : []
    ).sort((a, b) => a - b)
    console.log(
      `${label.padEnd(42)} p50 ${percentile(values, 0.5).toFixed(2).padStart(6)} ms  p90 ${
        percentile(values, 0.9).toFixed(2).padStart(6)
      } ms  (n ${values.length})`
    )
  }
  console.log(`# idle pickup, concurrency ${concurrency}, ${rows.length} tasks, node ${process.version}`)
  step("enqueue call -> insert statement start", "call", "insertStart")
  step("insert statement start -> end", "insertStart", "insertEnd")
  step("insert end -> pg LISTEN client notified", "insertEnd", "pgNotified")
  step("insert start -> worker stream notified", "insertStart", "streamNotified")
  step("pg notified -> worker stream notified", "pgNotified", "streamNotified")
  step("stream notified -> claim start", "streamNotified", "claimStart")
  step("claim start -> end", "claimStart", "claimEnd")
  step("claim end -> handler start", "claimEnd", "handler")
  step("total: enqueue call -> handler start", "call", "handler")
}).pipe(Effect.scoped, Logger.withMinimumLogLevel(LogLevel.Warning))

Effect.runPromise(program).then(() => process.exit(0), (error) => {
  console.error(error)
  process.exit(1)
})
