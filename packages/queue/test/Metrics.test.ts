import { assert, describe, it } from "@effect/vitest"
import { Effect, Metric, Schema } from "effect"
import * as Metrics from "../src/Metrics.js"
import * as Registry from "../src/Registry.js"
import * as Task from "../src/Task.js"
import * as TaskQueue from "../src/TaskQueue.js"
import { TaskStore } from "../src/TaskStore.js"
import * as Worker from "../src/Worker.js"
import { startClock } from "./fixtures.js"

describe("Metrics", () => {
  it.effect("runs are counted by outcome and timed", () =>
    Effect.gen(function*() {
      yield* startClock
      // A task name of its own: metrics are process-wide.
      const task = Task.make({
        name: "metrics.probe",
        payload: Schema.Struct({ fail: Schema.Boolean }),
        maxAttempts: 1,
        handler: ({ fail }) => (fail ? Effect.fail("no") : Effect.void)
      })
      const registry = yield* Registry.make({ tasks: [task], queues: [{ name: "default", concurrency: 1 }] })
      yield* TaskQueue.enqueue(task, { fail: false })
      yield* TaskQueue.enqueue(task, { fail: false })
      yield* TaskQueue.enqueue(task, { fail: true })
      yield* Worker.drain(registry, "default")

      const count = (outcome: string) =>
        Metric.value(Metrics.tagged(Metrics.runs, { task: "metrics.probe", queue: "default", outcome }))
      assert.strictEqual((yield* count("succeeded")).count, 2)
      assert.strictEqual((yield* count("dead")).count, 1)
      const timing = yield* Metric.value(Metrics.tagged(Metrics.duration, { task: "metrics.probe", queue: "default" }))
      assert.strictEqual(timing.count, 3)
    }).pipe(Effect.provide(TaskStore.layerMemory)))
})
