import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Ref, Schema, TestClock } from "effect"
import * as Registry from "../src/Registry.js"
import * as Task from "../src/Task.js"
import * as TaskQueue from "../src/TaskQueue.js"
import { TaskStore } from "../src/TaskStore.js"
import * as Worker from "../src/Worker.js"
import { startClock } from "./fixtures.js"

const email = Task.make({
  name: "email.send",
  payload: Schema.Struct({ to: Schema.String }),
  queue: "email",
  handler: () => Effect.void
})
const cleanup = Task.make({
  name: "maintenance.prune",
  payload: Schema.Struct({ retentionDays: Schema.Number }),
  queue: "maintenance",
  priority: 1,
  handler: () => Effect.void
})

describe("Registry", () => {
  it.effect("a valid configuration resolves queues and tasks with defaults", () =>
    Effect.gen(function*() {
      const registry = yield* Registry.make({
        tasks: [email, cleanup],
        queues: [{ name: "email", concurrency: 4 }, { name: "maintenance", concurrency: 1, lease: "2 minutes" }],
        references: ["email.send"]
      })
      assert.deepStrictEqual([...registry.tasks.keys()], ["email.send", "maintenance.prune"])
      assert.strictEqual(registry.queues.get("email")!.concurrency, 4)
      assert.strictEqual(registry.queues.get("email")!.lease.toString(), "Duration(30s)")
      assert.strictEqual(registry.queues.get("maintenance")!.lease.toString(), "Duration(2m)")
    }))

  it.effect("an enqueued task carries its task's defaults: priority 0 and 5 attempts unless the task sets them", () =>
    Effect.gen(function*() {
      yield* startClock
      const plain = yield* TaskQueue.enqueue(email, { to: "a@clinic.test" })
      const urgent = yield* TaskQueue.enqueue(cleanup, { retentionDays: 7 })
      const overridden = yield* TaskQueue.enqueue(cleanup, { retentionDays: 1 }, { priority: -2 })
      const row = (id: typeof plain.id) => Effect.map(TaskQueue.get(id), Option.getOrThrow)
      assert.strictEqual((yield* row(plain.id)).priority, 0)
      assert.strictEqual((yield* row(plain.id)).maxAttempts, 5)
      assert.strictEqual((yield* row(urgent.id)).priority, 1)
      assert.strictEqual((yield* row(overridden.id)).priority, -2)
    }).pipe(Effect.provide(TaskStore.layerMemory)))

  it.effect("on one queue, a task defined with a higher priority is claimed before older default-priority ones", () =>
    Effect.gen(function*() {
      yield* startClock
      const ran = yield* Ref.make<ReadonlyArray<string>>([])
      const record = (label: string) => Ref.update(ran, (all) => [...all, label])
      const routine = Task.make({
        name: "routine",
        payload: Schema.Struct({ n: Schema.Number }),
        handler: ({ n }) => record(`routine-${n}`)
      })
      const urgent = Task.make({
        name: "urgent",
        payload: Schema.Struct({ n: Schema.Number }),
        priority: 5,
        handler: ({ n }) => record(`urgent-${n}`)
      })
      const background = Task.make({
        name: "background",
        payload: Schema.Struct({ n: Schema.Number }),
        priority: -1,
        handler: ({ n }) => record(`background-${n}`)
      })
      const registry = yield* Registry.make({
        tasks: [routine, urgent, background],
        queues: [{ name: "default", concurrency: 1 }]
      })
      // Enqueued lowest first, a millisecond apart: age alone would run them in this order.
      yield* TaskQueue.enqueue(background, { n: 1 })
      yield* TestClock.adjust("1 millis")
      yield* TaskQueue.enqueue(routine, { n: 1 })
      yield* TestClock.adjust("1 millis")
      yield* TaskQueue.enqueue(urgent, { n: 1 })
      yield* TestClock.adjust("1 millis")
      yield* TaskQueue.enqueue(routine, { n: 2 })
      yield* TestClock.adjust("1 millis")
      yield* TaskQueue.enqueue(urgent, { n: 2 })
      yield* Worker.drain(registry, "default")
      assert.deepStrictEqual(yield* Ref.get(ran), ["urgent-1", "urgent-2", "routine-1", "routine-2", "background-1"])
    }).pipe(Effect.provide(TaskStore.layerMemory)))

  it.effect("a bad configuration fails start-up naming every problem", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Registry.make({
        tasks: [email, cleanup, email, Task.make({ ...email, name: "broken", maxAttempts: 0 })],
        queues: [{ name: "email", concurrency: 0 }, { name: "email", concurrency: 1 }],
        references: ["booking.reminder"]
      }))
      assert.strictEqual(error._tag, "RegistryError")
      assert.deepStrictEqual(error.problems, [
        "queue \"email\" needs a concurrency of at least 1 (got 0)",
        "queue \"email\" is configured twice",
        "task \"maintenance.prune\" uses queue \"maintenance\", which is not configured",
        "task \"email.send\" is defined twice",
        "task \"broken\" needs maxAttempts of at least 1",
        "task \"booking.reminder\" is referenced but not defined"
      ])
      assert.include(error.message, "Invalid task configuration:\n  - queue \"email\"")
    }))
})
