import { captureLogs } from "@clinic/testing"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Layer, Option, Schema } from "effect"
import * as Registry from "../src/Registry.js"
import * as Task from "../src/Task.js"
import * as TaskQueue from "../src/TaskQueue.js"
import { TaskStore, type TaskStoreShape } from "../src/TaskStore.js"
import * as Worker from "../src/Worker.js"
import { advance, settle, startClock } from "./fixtures.js"

interface Entry {
  readonly level: string
  readonly message: unknown
  readonly cause: string
}

const entries = (lines: ReadonlyArray<string>) => lines.map((line) => JSON.parse(line) as Entry)

/** The memory store with some of its methods replaced, as a database in trouble would behave. */
const troubled = (change: (store: TaskStoreShape) => Partial<TaskStoreShape>) =>
  Layer.effect(TaskStore, Effect.map(TaskStore, (store) => TaskStore.of({ ...store, ...change(store) }))).pipe(
    Layer.provide(TaskStore.layerMemory)
  )

const quick = Task.make({ name: "warn.quick", payload: Schema.Struct({}), handler: () => Effect.void })

describe("worker warnings", () => {
  it.effect("a run without hooks whose task succeeds logs nothing", () => {
    const { layer: capture, lines } = captureLogs()
    return Effect.gen(function*() {
      yield* startClock
      const registry = yield* Registry.make({ tasks: [quick], queues: [{ name: "default", concurrency: 1 }] })
      yield* TaskQueue.enqueue(quick, {})
      const results = yield* Worker.drain(registry, "default")
      assert.deepStrictEqual(results.map((r) => r.outcome), ["succeeded"])
      assert.deepStrictEqual(lines, [])
    }).pipe(Effect.provide(TaskStore.layerMemory), Effect.provide(capture))
  })

  it.effect("asking for a queue that is not configured is a defect naming the queue", () =>
    Effect.gen(function*() {
      const registry = yield* Registry.make({ tasks: [quick], queues: [{ name: "default", concurrency: 1 }] })
      const exit = yield* Effect.exit(Worker.runOne(registry, "emails"))
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) assert.include(Cause.pretty(exit.cause), "queue \"emails\" is not configured")
      const started = yield* Effect.exit(Effect.scoped(Worker.make(registry, { queues: ["emails"] })))
      assert.isTrue(Exit.isFailure(started))
      if (Exit.isFailure(started)) assert.include(Cause.pretty(started.cause), "queue \"emails\" is not configured")
    }).pipe(Effect.provide(TaskStore.layerMemory)))

  it.effect("a lease that cannot be renewed is warned about, and renewal goes on", () => {
    const { layer: capture, lines } = captureLogs()
    let renewals = 0
    const store = troubled((store) => ({
      extendLease: (id, leaseId, until) => {
        renewals++
        if (renewals === 1) return Effect.succeed(false)
        if (renewals === 2) return Effect.die(new Error("connection reset"))
        return store.extendLease(id, leaseId, until)
      }
    }))
    return Effect.gen(function*() {
      yield* startClock
      const slow = Task.make({
        name: "warn.slow",
        payload: Schema.Struct({}),
        handler: () => Effect.sleep("35 seconds")
      })
      // A 30 second lease is renewed every 10 seconds.
      const registry = yield* Registry.make({ tasks: [slow], queues: [{ name: "default", concurrency: 1 }] })
      yield* TaskQueue.enqueue(slow, {})
      const fiber = yield* Effect.fork(Worker.runOne(registry, "default"))
      for (let i = 0; i < 7; i++) yield* advance("5 seconds")
      const result = Option.getOrThrow(yield* Fiber.join(fiber))
      assert.strictEqual(result.outcome, "succeeded")
      assert.strictEqual(renewals, 3)
      const warnings = entries(lines)
      assert.deepStrictEqual(warnings.map((e) => `${e.level} ${e.message}`), [
        "WARN lease lost while running",
        "WARN lease not renewed; retrying"
      ])
      assert.include(warnings[1].cause, "connection reset")
    }).pipe(Effect.provide(store), Effect.provide(capture))
  })

  it.scoped("completions the store does not record are warned about with their count", () => {
    const { layer: capture, lines } = captureLogs()
    const store = troubled(() => ({ complete: () => Effect.succeed([]) }))
    return Effect.gen(function*() {
      yield* startClock
      const registry = yield* Registry.make({ tasks: [quick], queues: [{ name: "default", concurrency: 1 }] })
      yield* TaskQueue.enqueue(quick, {})
      yield* Worker.make(registry)
      yield* settle
      assert.deepStrictEqual(entries(lines).map((e) => `${e.level} ${e.message}`), [
        "WARN lease lost before 1 completions were recorded"
      ])
    }).pipe(Effect.provide(store), Effect.provide(capture))
  })

  it.scoped("a failing completion write is warned about with its cause, and the worker goes on", () => {
    const { layer: capture, lines } = captureLogs()
    const store = troubled(() => ({ complete: () => Effect.die(new Error("disk full")) }))
    return Effect.gen(function*() {
      yield* startClock
      const registry = yield* Registry.make({ tasks: [quick], queues: [{ name: "default", concurrency: 1 }] })
      yield* TaskQueue.enqueue(quick, {})
      const worker = yield* Worker.make(registry)
      yield* settle
      const warnings = entries(lines)
      assert.deepStrictEqual(warnings.map((e) => `${e.level} ${e.message}`), ["WARN recording completions failed"])
      assert.include(warnings[0].cause, "disk full")
      assert.strictEqual((yield* worker.status).outcomes.succeeded, 1)
    }).pipe(Effect.provide(store), Effect.provide(capture))
  })
})
