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
  it.effect("runs are counted by outcome and timed; Prometheus text shows them", () =>
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

      const text = yield* Metrics.prometheus
      assert.include(text, "# TYPE clinic_task_runs_total counter")
      assert.include(text, "clinic_task_runs_total{task=\"metrics.probe\",queue=\"default\",outcome=\"succeeded\"} 2")
      assert.include(text, "clinic_tasks_enqueued_total{task=\"metrics.probe\",queue=\"default\"} 3")
      assert.include(text, "# TYPE clinic_task_duration_seconds histogram")
      assert.include(text, "clinic_task_duration_seconds_count{task=\"metrics.probe\",queue=\"default\"} 3")
      assert.match(text, /clinic_task_duration_seconds_bucket\{task="metrics.probe",queue="default",le="\+Inf"\} 3/)
    }).pipe(Effect.provide(TaskStore.layerMemory)))

  it("renders gauges and escapes label values", () => {
    const gauge = Metric.gauge("test_gauge", { description: "A gauge" })
    Effect.runSync(Metric.set(Metrics.tagged(gauge, { queue: "a\"b" }), 7))
    const text = Effect.runSync(Metrics.prometheus)
    assert.include(text, "# HELP test_gauge A gauge\n# TYPE test_gauge gauge\ntest_gauge{queue=\"a\\\"b\"} 7\n")
  })
})
