import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as Registry from "../src/Registry.js"
import * as Task from "../src/Task.js"

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
      assert.strictEqual(cleanup.priority, 1)
      assert.strictEqual(email.maxAttempts, 5)
    }))

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
