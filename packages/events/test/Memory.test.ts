import { TaskStore } from "@clinic/queue"
import { sqlClientLayer } from "@clinic/repository/MemoryDb"
import { SqlError } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Duration, Effect, Exit, Layer, Option } from "effect"
import * as EventBus from "../src/EventBus.js"
import { OutboxStore } from "../src/OutboxStore.js"
import { bookingConfirmed, eventBusContract } from "./EventBusContract.js"
import { startClock } from "./fixtures.js"

const layer = Layer.mergeAll(OutboxStore.layerMemory, TaskStore.layerMemory, sqlClientLayer)

eventBusContract("memory", layer)

describe("event bus (memory)", () => {
  it.scoped("the deliveries' queue holds its claims for the configured lease, 30 seconds by default", () =>
    Effect.gen(function*() {
      const sub = EventBus.subscriber({ name: "audit", events: ["booking.confirmed"], handler: () => Effect.void })
      const leased = yield* EventBus.make({ subscribers: [sub], queue: "long", lease: "5 minutes" })
      const plain = yield* EventBus.make({ subscribers: [sub], queue: "plain" })
      const lease = (bus: EventBus.EventBusShape) => Duration.toMillis(bus.registry.queues.get(bus.queue)!.lease)
      assert.strictEqual(lease(leased), Duration.toMillis("5 minutes"))
      assert.strictEqual(lease(plain), Duration.toMillis("30 seconds"))
    }).pipe(Effect.provide(layer)))

  it.effect("a handler's SqlError is a defect; its other errors stay failures", () =>
    Effect.gen(function*() {
      yield* startClock
      const eventId = yield* EventBus.publish(bookingConfirmed())
      const deliver = (error: unknown) =>
        EventBus.deliveryTask(
          EventBus.subscriber({ name: "writer", events: ["booking.confirmed"], handler: () => Effect.fail(error) }),
          "events"
        ).handler({ eventId }, {
          id: crypto.randomUUID(),
          name: "event:writer",
          queue: "events",
          attempt: 1,
          maxAttempts: 8
        })
      const sqlError = new SqlError.SqlError({ message: "connection lost" })
      const died = yield* Effect.exit(deliver(sqlError))
      assert.isTrue(Exit.isFailure(died))
      if (Exit.isFailure(died)) {
        assert.isTrue(Option.isNone(Cause.failureOption(died.cause)))
        assert.strictEqual(Option.getOrThrow(Cause.dieOption(died.cause)), sqlError)
      }
      assert.deepStrictEqual(yield* Effect.exit(deliver("no slot free")), Exit.fail("no slot free"))
    }).pipe(Effect.provide(layer)))
})
