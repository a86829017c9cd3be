import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Metric, Schema } from "effect"
import * as Backoff from "../src/Backoff.js"
import * as Metrics from "../src/Metrics.js"
import * as Registry from "../src/Registry.js"
import * as Task from "../src/Task.js"
import * as TaskQueue from "../src/TaskQueue.js"
import { TaskStore } from "../src/TaskStore.js"
import * as Worker from "../src/Worker.js"
import { advance, startClock } from "./fixtures.js"

const plain = (name: string, extra: Partial<{ priority: number; queue: string }> = {}) =>
  Task.make({ name, payload: Schema.Struct({ n: Schema.Number }), handler: () => Effect.void, ...extra })

describe("registry validation", () => {
  it.effect("a lease under one second, an empty task name and a fractional priority are each refused", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Registry.make({
        tasks: [plain(""), plain("fractional", { priority: 1.5 })],
        queues: [{ name: "default", concurrency: 1, lease: "999 millis" }]
      }))
      assert.deepStrictEqual(error.problems, [
        "queue \"default\" has a lease shorter than 1 second",
        "a task has an empty name",
        "task \"fractional\" has a non-integer priority"
      ])
      assert.strictEqual(
        error.message,
        "Invalid task configuration:\n" +
          "  - queue \"default\" has a lease shorter than 1 second\n" +
          "  - a task has an empty name\n" +
          "  - task \"fractional\" has a non-integer priority"
      )
    }))

  it.effect("a lease of exactly one second and negative integer priorities are accepted", () =>
    Effect.gen(function*() {
      const registry = yield* Registry.make({
        tasks: [plain("low", { priority: -3 })],
        queues: [{ name: "default", concurrency: 1, lease: "1 second" }]
      })
      assert.strictEqual(Duration.toMillis(registry.queues.get("default")!.lease), 1000)
    }))
})

describe("backoff settings", () => {
  it("jitter defaults to half the delay and is clamped to 0..1", () => {
    assert.strictEqual(Backoff.make({ base: "1 second", max: "1 minute" }).jitter, 0.5)
    assert.strictEqual(Backoff.make({ base: "1 second", max: "1 minute", jitter: 0.25 }).jitter, 0.25)
    assert.strictEqual(Backoff.make({ base: "1 second", max: "1 minute", jitter: 3 }).jitter, 1)
    assert.strictEqual(Backoff.make({ base: "1 second", max: "1 minute", jitter: -1 }).jitter, 0)
    assert.strictEqual(Backoff.make({ base: "1 second", max: "1 minute", jitter: 0 }).jitter, 0)
  })
})

describe("enqueue counting", () => {
  it.effect("the enqueued counter counts accepted tasks only, not repeats of an idempotency key", () =>
    Effect.gen(function*() {
      yield* startClock
      // Names of their own: metrics are process-wide.
      const task = plain("counted.task", { queue: "counted" })
      const counter = (name: string) =>
        Effect.map(
          Metric.value(Metrics.tagged(Metrics.enqueued, { task: name, queue: "counted" })),
          (state) => state.count
        )
      const before = yield* counter("counted.task")

      yield* TaskQueue.enqueue(task, { n: 0 }, { idempotencyKey: "k0" })
      assert.strictEqual((yield* counter("counted.task")) - before, 1)

      const results = yield* TaskQueue.enqueueMany(task, [
        { payload: { n: 1 }, idempotencyKey: "k1" },
        { payload: { n: 2 }, idempotencyKey: "k1" },
        { payload: { n: 3 }, idempotencyKey: "k0" },
        { payload: { n: 4 } }
      ])
      assert.deepStrictEqual(results.map((r) => r.inserted), [true, false, false, true])
      assert.strictEqual((yield* counter("counted.task")) - before, 3)

      // Nothing new: the counter stays.
      yield* TaskQueue.enqueueMany(task, [{ payload: { n: 5 }, idempotencyKey: "k1" }])
      assert.deepStrictEqual(yield* TaskQueue.enqueueMany(task, []), [])
      assert.strictEqual((yield* counter("counted.task")) - before, 3)
      const rows = yield* Effect.flatMap(TaskStore, (store) => store.list({ limit: 10, queue: "counted" }))
      assert.strictEqual(rows.length, 3)
    }).pipe(Effect.provide(TaskStore.layerMemory)))
})

describe("queue depth gauge", () => {
  it.scoped("a running worker samples each queue's ready, scheduled, running and dead tasks", () =>
    Effect.gen(function*() {
      yield* startClock
      const task = plain("gauge.task", { queue: "gauge.idle" })
      const registry = yield* Registry.make({
        tasks: [task],
        queues: [{ name: "gauge.worked", concurrency: 1 }, { name: "gauge.idle", concurrency: 1 }]
      })
      const gauge = (state: string) =>
        Effect.map(Metric.value(Metrics.tagged(Metrics.depth, { queue: "gauge.idle", state })), (s) => s.value)
      // The worker works the other queue only: these tasks stay where they are.
      yield* TaskQueue.enqueue(task, { n: 1 })
      yield* TaskQueue.enqueue(task, { n: 2 })
      yield* TaskQueue.enqueue(task, { n: 3 }, { delay: "1 hour" })
      yield* Worker.make(registry, { queues: ["gauge.worked"], depthInterval: "15 seconds" })
      // The first sample is one interval in.
      yield* advance("15 seconds")
      assert.deepStrictEqual(
        [yield* gauge("ready"), yield* gauge("scheduled"), yield* gauge("running"), yield* gauge("dead")],
        [2, 1, 0, 0]
      )
      yield* TaskQueue.enqueue(task, { n: 4 })
      yield* advance("15 seconds")
      assert.strictEqual(yield* gauge("ready"), 3)
    }).pipe(Effect.provide(TaskStore.layerMemory)))
})
