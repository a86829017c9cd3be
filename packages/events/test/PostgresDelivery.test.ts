import type { EventId } from "@clinic/domain"
import { Task, type TaskId, TaskQueue, TaskStore } from "@clinic/queue"
import * as TestDatabase from "@clinic/repository/testing/TestDatabase"
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Layer, Option, Ref, Schema } from "effect"
import * as EventBus from "../src/EventBus.js"
import { OutboxStore } from "../src/OutboxStore.js"
import { bookingConfirmed } from "./EventBusContract.js"
import { eventually, startClock } from "./fixtures.js"

const layer = Layer.mergeAll(OutboxStore.layerPg, TaskStore.layerPg).pipe(Layer.provideMerge(TestDatabase.layer))

const followUpTask = Task.make({
  name: "follow-up",
  payload: Schema.Struct({ n: Schema.Number }),
  queue: "follow-ups",
  handler: () => Effect.void
})

const deliver = <S extends EventBus.AnySubscriber>(sub: S, eventId: EventId) =>
  EventBus.deliveryTask(sub, "events").handler({ eventId }, {
    id: crypto.randomUUID(),
    name: `event:${sub.name}`,
    queue: "events",
    attempt: 1,
    maxAttempts: sub.maxAttempts
  })

describe("event delivery on Postgres: one unit of work per (event, subscriber)", () => {
  it.scoped("a handler that fails after writing rolls its writes back and leaves the event unprocessed", () =>
    Effect.gen(function*() {
      yield* startClock
      const store = yield* OutboxStore
      const eventId = yield* EventBus.publish(bookingConfirmed())
      const written = yield* Ref.make<Option.Option<{ event: EventId; task: TaskId }>>(Option.none())
      const failing = EventBus.subscriber({
        name: "follow-up",
        events: ["booking.confirmed"],
        handler: () =>
          Effect.gen(function*() {
            const event = yield* EventBus.publish(bookingConfirmed(1))
            const task = yield* TaskQueue.enqueue(followUpTask, { n: 1 })
            yield* Ref.set(written, Option.some({ event, task: task.id }))
            return yield* Effect.fail("handler failed after its writes")
          })
      })
      const exit = yield* Effect.exit(deliver(failing, eventId))
      assert.deepStrictEqual(exit, Exit.fail("handler failed after its writes"))
      const followUp = Option.getOrThrow(yield* Ref.get(written))
      assert.isTrue(Option.isNone(yield* store.get(followUp.event)), "the handler's event rolled back")
      assert.isTrue(Option.isNone(yield* TaskQueue.get(followUp.task)), "and its task")
      assert.isFalse(yield* store.isProcessed(eventId, "follow-up"), "no record of a failed delivery")
    }).pipe(Effect.provide(layer)))

  it.scoped("a concurrent second delivery of one pair waits for the first and then skips", () =>
    Effect.gen(function*() {
      yield* startClock
      const sql = yield* SqlClient.SqlClient
      const store = yield* OutboxStore
      const eventId = yield* EventBus.publish(bookingConfirmed())
      const entered = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const calls = yield* Ref.make(0)
      const slow = EventBus.subscriber({
        name: "slow",
        events: ["booking.confirmed"],
        handler: () =>
          Effect.gen(function*() {
            yield* Ref.update(calls, (n) => n + 1)
            yield* Deferred.succeed(entered, undefined)
            yield* Deferred.await(release)
          })
      })
      const first = yield* Effect.fork(deliver(slow, eventId))
      yield* Deferred.await(entered)
      const second = yield* Effect.fork(deliver(slow, eventId))
      // The second delivery is parked on the pair's lock, not past its check.
      yield* eventually(
        sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`.pipe(
          Effect.map((rows) => rows[0].n === 1),
          Effect.orDie
        )
      )
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(first)
      yield* Fiber.join(second)
      assert.strictEqual(yield* Ref.get(calls), 1)
      assert.isTrue(yield* store.isProcessed(eventId, "slow"))
    }).pipe(Effect.provide(layer)))
})
