import { captureLogs } from "@clinic/testing"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Fiber, Metric, Option, Ref, Schema, TestClock } from "effect"
import * as Backoff from "../src/Backoff.js"
import * as Metrics from "../src/Metrics.js"
import * as Registry from "../src/Registry.js"
import * as Task from "../src/Task.js"
import * as TaskQueue from "../src/TaskQueue.js"
import { TaskStore } from "../src/TaskStore.js"
import * as Worker from "../src/Worker.js"
import { sleepers, startClock } from "./fixtures.js"

interface Entry {
  readonly level: string
  readonly message: unknown
  readonly cause: string
  readonly annotations: Record<string, unknown>
}

const entries = (lines: ReadonlyArray<string>) => lines.map((line) => JSON.parse(line) as Entry)

const noJitter = Backoff.make({ base: "1 second", max: "1 minute", jitter: 0 })

/** A task whose handler fails with whatever `failure` is, every time. */
const failing = (name: string, failure: Effect.Effect<void, unknown>, maxAttempts = 1) =>
  Task.make({ name, payload: Schema.Struct({}), maxAttempts, backoff: noJitter, handler: () => failure })

const lastError = (id: Parameters<typeof TaskQueue.get>[0]) =>
  Effect.map(TaskQueue.get(id), (row) => Option.getOrThrow(row).lastError)

describe("worker failures", () => {
  it.effect("a failed run records the error's name and message, or the pretty cause for other failures", () =>
    Effect.gen(function*() {
      yield* startClock
      const tasks = [
        failing("fails.error", Effect.fail(new RangeError("out of slots"))),
        failing("fails.string", Effect.fail("no room")),
        failing("fails.defect", Effect.die(new Error("bug")))
      ] as const
      const registry = yield* Registry.make({ tasks, queues: [{ name: "default", concurrency: 1 }] })
      const ids = []
      // A millisecond apart: they run in the order enqueued.
      for (const task of tasks) {
        ids.push((yield* TaskQueue.enqueue(task, {})).id)
        yield* TestClock.adjust("1 millis")
      }
      const results = yield* Worker.drain(registry, "default")
      assert.deepStrictEqual(results.map((r) => r.outcome), ["dead", "dead", "dead"])
      assert.strictEqual(yield* lastError(ids[0]), "RangeError: out of slots")
      assert.strictEqual(yield* lastError(ids[1]), Cause.pretty(Cause.fail("no room")))
      assert.include(yield* lastError(ids[2]), "Error: bug")
      assert.deepStrictEqual(results[0].error, Option.some("RangeError: out of slots"))
    }).pipe(Effect.provide(TaskStore.layerMemory)))

  it.effect("a recorded error is cut to 2000 characters, with an ellipsis when cut", () =>
    Effect.gen(function*() {
      yield* startClock
      // "Error: " is 7 characters: 1993 more make exactly 2000, which is kept whole.
      const fits = failing("fails.fits", Effect.fail(new Error("y".repeat(1993))))
      const long = failing("fails.long", Effect.fail(new Error("x".repeat(3000))))
      const registry = yield* Registry.make({ tasks: [fits, long], queues: [{ name: "default", concurrency: 1 }] })
      const a = yield* TaskQueue.enqueue(fits, {})
      yield* TestClock.adjust("1 millis")
      const b = yield* TaskQueue.enqueue(long, {})
      yield* Worker.drain(registry, "default")
      assert.strictEqual(yield* lastError(a.id), `Error: ${"y".repeat(1993)}`)
      assert.strictEqual(yield* lastError(b.id), `Error: ${"x".repeat(1993)}…`)
    }).pipe(Effect.provide(TaskStore.layerMemory)))

  it.effect("failing hooks are logged by name and change no outcome; a death is logged with its error", () => {
    const { layer: capture, lines } = captureLogs()
    return Effect.gen(function*() {
      yield* startClock
      const seen = yield* Ref.make<ReadonlyArray<string>>([])
      const ok = Task.make({ name: "hooks.ok", payload: Schema.Struct({}), handler: () => Effect.void })
      const flaky = failing("hooks.flaky", Effect.fail(new Error("flaky")), 2)
      const registry = yield* Registry.make({ tasks: [ok, flaky], queues: [{ name: "default", concurrency: 1 }] })
      const hooks: Worker.Hooks = {
        before: () => Effect.die(new Error("before broke")),
        after: () => Effect.die(new Error("after broke")),
        onFailure: (context, { retryAt }) =>
          Ref.update(seen, (all) => [...all, `${context.attempt} ${Option.isSome(retryAt) ? "retry" : "none"}`]).pipe(
            Effect.zipRight(Effect.die(new Error("onFailure broke")))
          )
      }
      yield* TaskQueue.enqueue(ok, {})
      yield* TestClock.adjust("1 millis")
      const { id } = yield* TaskQueue.enqueue(flaky, {})
      const first = yield* Worker.drain(registry, "default", { hooks })
      yield* TestClock.adjust("1 second")
      const second = yield* Worker.drain(registry, "default", { hooks })
      assert.deepStrictEqual([...first, ...second].map((r) => `${r.name} ${r.outcome}`), [
        "hooks.ok succeeded",
        "hooks.flaky retried",
        "hooks.flaky dead"
      ])
      assert.deepStrictEqual(yield* Ref.get(seen), ["1 retry", "2 none"])

      const warnings = entries(lines).filter((e) => e.level === "WARN")
      assert.deepStrictEqual(warnings.map((e) => `${e.message} ${e.annotations.task} ${e.annotations.attempt}`), [
        "task hook before failed hooks.ok 1",
        "task hook after failed hooks.ok 1",
        "task hook before failed hooks.flaky 1",
        "task hook onFailure failed hooks.flaky 1",
        "task hook before failed hooks.flaky 2",
        "task hook onFailure failed hooks.flaky 2",
        "task failed on its last attempt; it is dead hooks.flaky 2"
      ])
      assert.include(warnings[0].cause, "before broke")
      assert.include(warnings[3].cause, "onFailure broke")
      assert.strictEqual(warnings[6].annotations.taskId, id)
      assert.strictEqual(warnings[6].annotations.error, "Error: flaky")
    }).pipe(Effect.provide(TaskStore.layerMemory), Effect.provide(capture))
  })

  it.effect("a claimed task no registered task defines is handed back with a warning, not buried", () => {
    const { layer: capture, lines } = captureLogs()
    return Effect.gen(function*() {
      yield* startClock
      const known = Task.make({ name: "known", payload: Schema.Struct({}), handler: () => Effect.void })
      const newer = Task.make({ name: "from.newer.code", payload: Schema.Struct({}), handler: () => Effect.void })
      const registry = yield* Registry.make({ tasks: [known], queues: [{ name: "default", concurrency: 1 }] })
      const { id } = yield* TaskQueue.enqueue(newer, {})
      const result = Option.getOrThrow(yield* Worker.runOne(registry, "default"))
      assert.strictEqual(result.outcome, "released")
      assert.deepStrictEqual(result.error, Option.some("no task named \"from.newer.code\" is registered here"))
      const row = Option.getOrThrow(yield* TaskQueue.get(id))
      assert.strictEqual(row.status, "pending")
      assert.strictEqual(row.attempts, 0)
      assert.deepStrictEqual(entries(lines).map((e) => `${e.level} ${e.message}`), [
        "WARN claimed a task this worker does not define; handed back"
      ])
    }).pipe(Effect.provide(TaskStore.layerMemory), Effect.provide(capture))
  })

  it.effect("run time is recorded in seconds, per task", () =>
    Effect.gen(function*() {
      yield* startClock
      const slow = Task.make({
        name: "timing.slow",
        payload: Schema.Struct({}),
        handler: () => Effect.sleep("2 seconds")
      })
      const quick = Task.make({ name: "timing.quick", payload: Schema.Struct({}), handler: () => Effect.void })
      const registry = yield* Registry.make({ tasks: [slow, quick], queues: [{ name: "default", concurrency: 1 }] })
      yield* TaskQueue.enqueue(quick, {})
      yield* Worker.drain(registry, "default")
      yield* TaskQueue.enqueue(slow, {})
      const fiber = yield* Effect.fork(Worker.drain(registry, "default"))
      yield* sleepers(2) // the handler and the worker's watchdog
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(fiber)
      const timing = (task: string) => Metric.value(Metrics.tagged(Metrics.duration, { task, queue: "default" }))
      const slowTiming = yield* timing("timing.slow")
      assert.strictEqual(slowTiming.count, 1)
      assert.strictEqual(slowTiming.sum, 2)
      const quickTiming = yield* timing("timing.quick")
      assert.strictEqual(quickTiming.count, 1)
      assert.strictEqual(quickTiming.sum, 0)
    }).pipe(Effect.provide(TaskStore.layerMemory)))
})
