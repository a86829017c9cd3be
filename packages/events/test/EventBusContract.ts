import type { DomainEvent } from "@clinic/domain"
import { AuthSessionId, BookingId, PatientId, UserId } from "@clinic/domain"
import { Backoff, TaskQueue, type TaskStore, Worker } from "@clinic/queue"
import type { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import type { Layer } from "effect"
import { Deferred, Effect, Exit, Fiber, Option, Ref, Scope, TestClock } from "effect"
import * as EventBus from "../src/EventBus.js"
import { OutboxStore } from "../src/OutboxStore.js"
import { at, eventually, sleepingUntil, startClock } from "./fixtures.js"

/** The stores and the `SqlClient` whose transactions the relay and each delivery open. */
export type BusLayer = Layer.Layer<OutboxStore | TaskStore | SqlClient.SqlClient>

export const bookingConfirmed = (n = 0): DomainEvent => ({
  _tag: "booking.confirmed",
  bookingId: BookingId.make(crypto.randomUUID()),
  therapistId: UserId.make(crypto.randomUUID()),
  patientId: PatientId.make(crypto.randomUUID()),
  startsAt: at(`${24 + n} hours`),
  endsAt: at(`${25 + n} hours`)
})

const noJitter = Backoff.make({ base: "1 second", max: "1 minute", jitter: 0 })

/** A subscriber that records what it saw and fails its first `failTimes` deliveries. */
export const recording = (name: string, events: ReadonlyArray<DomainEvent["_tag"]>, failTimes = 0) =>
  Effect.gen(function*() {
    const seen = yield* Ref.make<ReadonlyArray<string>>([])
    const calls = yield* Ref.make(0)
    const sub = EventBus.subscriber({
      name,
      events,
      backoff: noJitter,
      handler: (event) =>
        Effect.gen(function*() {
          const call = yield* Ref.updateAndGet(calls, (n) => n + 1)
          if (call <= failTimes) return yield* Effect.fail(new Error(`${name} failed`))
          const id = "bookingId" in event ? event.bookingId : event._tag
          yield* Ref.update(seen, (s) => [...s, `${event._tag} ${id}`])
        })
    })
    return { sub, seen, calls }
  })

export const eventBusContract = (name: string, layer: BusLayer) =>
  describe(`event bus (${name})`, () => {
    it.scoped("delivers each event to every subscriber of its type, once", () =>
      Effect.gen(function*() {
        yield* startClock
        const confirmed = yield* recording("confirmations", ["booking.confirmed"])
        const all = yield* recording("audit", ["booking.confirmed", "booking.expired"])
        const expiredOnly = yield* recording("expiries", ["booking.expired"])
        const bus = yield* EventBus.make({ subscribers: [confirmed.sub, all.sub, expiredOnly.sub] })
        const event = bookingConfirmed()
        yield* EventBus.publish(event)
        yield* EventBus.publish({
          _tag: "auth_session.expired",
          authSessionId: AuthSessionId.make(crypto.randomUUID()),
          userId: UserId.make(crypto.randomUUID())
        })
        assert.strictEqual(yield* bus.dispatchOnce, 2)
        assert.strictEqual(yield* bus.dispatchOnce, 0, "dispatched events are not relayed again")
        const results = yield* Worker.drain(bus.registry, bus.queue)
        assert.deepStrictEqual(results.map((r) => r.outcome), ["succeeded", "succeeded"])
        const id = (event as { bookingId: string }).bookingId
        assert.deepStrictEqual(yield* Ref.get(confirmed.seen), [`booking.confirmed ${id}`])
        assert.deepStrictEqual(yield* Ref.get(all.seen), [`booking.confirmed ${id}`])
        assert.deepStrictEqual(yield* Ref.get(expiredOnly.seen), [])
        assert.strictEqual((yield* bus.status).dispatched, 2)
      }).pipe(Effect.provide(layer)))

    it.scoped("a second delivery of the same event to a subscriber is skipped; other subscribers are unaffected", () =>
      Effect.gen(function*() {
        yield* startClock
        const first = yield* recording("first", ["booking.confirmed"])
        const second = yield* recording("second", ["booking.confirmed"])
        const bus = yield* EventBus.make({ subscribers: [first.sub, second.sub] })
        const eventId = yield* EventBus.publish(bookingConfirmed())
        yield* bus.dispatchOnce
        yield* Worker.drain(bus.registry, bus.queue)
        // A redelivery, as after a worker died between the handler's commit and the task's completion.
        yield* TaskQueue.enqueue(EventBus.deliveryTask(first.sub, bus.queue), { eventId })
        const redelivered = yield* Worker.drain(bus.registry, bus.queue)
        assert.deepStrictEqual(redelivered.map((r) => r.outcome), ["succeeded"])
        assert.strictEqual(yield* Ref.get(first.calls), 1)
        assert.strictEqual(yield* Ref.get(second.calls), 1)
        const store = yield* OutboxStore
        assert.isTrue(yield* store.isProcessed(eventId, "first"))
        assert.isTrue(yield* store.isProcessed(eventId, "second"))
      }).pipe(Effect.provide(layer)))

    it.scoped("a failing subscriber is retried with backoff without holding back the others", () =>
      Effect.gen(function*() {
        yield* startClock
        const flaky = yield* recording("flaky", ["booking.confirmed"], 2)
        const steady = yield* recording("steady", ["booking.confirmed"])
        const bus = yield* EventBus.make({ subscribers: [flaky.sub, steady.sub] })
        const eventId = yield* EventBus.publish(bookingConfirmed())
        yield* bus.dispatchOnce
        const firstRound = yield* Worker.drain(bus.registry, bus.queue)
        assert.deepStrictEqual(firstRound.map((r) => `${r.name} ${r.outcome}`).sort(), [
          "event:flaky retried",
          "event:steady succeeded"
        ])
        assert.strictEqual((yield* Ref.get(steady.seen)).length, 1)
        const store = yield* OutboxStore
        assert.isFalse(yield* store.isProcessed(eventId, "flaky"), "a failed delivery leaves no record")
        yield* TestClock.adjust("999 millis")
        assert.deepStrictEqual(yield* Worker.drain(bus.registry, bus.queue), [])
        yield* TestClock.adjust("1 millis")
        assert.strictEqual((yield* Worker.drain(bus.registry, bus.queue))[0].outcome, "retried")
        yield* TestClock.adjust("2 seconds")
        assert.strictEqual((yield* Worker.drain(bus.registry, bus.queue))[0].outcome, "succeeded")
        assert.strictEqual(yield* Ref.get(flaky.calls), 3)
        assert.strictEqual((yield* Ref.get(flaky.seen)).length, 1)
        assert.isTrue(yield* store.isProcessed(eventId, "flaky"))
        assert.strictEqual(yield* Ref.get(steady.calls), 1)
      }).pipe(Effect.provide(layer)))

    it.scoped("processed-event records older than an hour are pruned; younger ones stay", () =>
      Effect.gen(function*() {
        yield* startClock
        const sub = yield* recording("audit", ["booking.confirmed"])
        const bus = yield* EventBus.make({ subscribers: [sub.sub] })
        const old = yield* EventBus.publish(bookingConfirmed(1))
        yield* bus.dispatchOnce
        yield* Worker.drain(bus.registry, bus.queue)
        yield* TestClock.adjust("30 minutes")
        const recent = yield* EventBus.publish(bookingConfirmed(2))
        yield* bus.dispatchOnce
        yield* Worker.drain(bus.registry, bus.queue)
        yield* TestClock.adjust("30 minutes")
        // Exactly one hour old is kept; older than one hour goes.
        assert.strictEqual(yield* EventBus.pruneProcessed(), 0)
        yield* TestClock.adjust("1 millis")
        assert.strictEqual(yield* EventBus.pruneProcessed(), 1)
        const store = yield* OutboxStore
        assert.isFalse(yield* store.isProcessed(old, "audit"))
        assert.isTrue(yield* store.isProcessed(recent, "audit"))
        // The outbox remembers what it dispatched: pruning never causes a redelivery.
        assert.strictEqual(yield* bus.dispatchOnce, 0)
        assert.strictEqual(yield* Ref.get(sub.calls), 2)
        assert.strictEqual(yield* EventBus.pruneDispatched("1 hour"), 1)
        assert.isTrue(Option.isNone(yield* store.get(old)))
        assert.isTrue(Option.isSome(yield* store.get(recent)))
      }).pipe(Effect.provide(layer)))

    it.scoped("not started until started; it wakes on publish, reports status, and stops after draining its handlers", () =>
      Effect.gen(function*() {
        yield* startClock
        const started = yield* Deferred.make<void>()
        const release = yield* Deferred.make<void>()
        const handled = yield* Ref.make(0)
        const slow = EventBus.subscriber({
          name: "slow",
          events: ["booking.confirmed"],
          handler: () =>
            Deferred.succeed(started, undefined).pipe(
              Effect.zipRight(Deferred.await(release)),
              Effect.zipRight(Ref.update(handled, (n) => n + 1))
            )
        })
        const scope = yield* Scope.make()
        const bus = yield* EventBus.make({ subscribers: [slow], pollInterval: "1 hour", shutdownBudget: "30 seconds" })
          .pipe(Scope.extend(scope))
        assert.strictEqual((yield* bus.status).state, "not-started")
        yield* bus.start
        yield* eventually(Effect.map(bus.status, (s) => s.listening && Option.exists(s.worker, (w) => w.listening)))
        // The poll interval never passes: only the notification can deliver this.
        yield* EventBus.publish(bookingConfirmed())
        // The worker, woken by the same notification, may start the handler before the relay has
        // counted the dispatch: wait for both rather than for the first sign of either.
        yield* eventually(Deferred.isDone(started))
        yield* eventually(Effect.map(bus.status, (s) => s.dispatched === 1))
        const status = yield* bus.status
        assert.strictEqual(Option.getOrThrow(status.worker).queues[0].inFlight, 1)
        assert.strictEqual(status.state, "running")
        assert.strictEqual(status.dispatched, 1)
        assert.deepStrictEqual(status.subscribers, [{ name: "slow", events: ["booking.confirmed"] }])

        const stopping = yield* Effect.fork(bus.stop())
        yield* sleepingUntil(at("30 seconds"))
        yield* Deferred.succeed(release, undefined)
        yield* Fiber.join(stopping)
        assert.strictEqual(yield* Ref.get(handled), 1, "the in-flight handler finished within the budget")
        assert.strictEqual((yield* bus.status).state, "stopped")

        yield* EventBus.publish(bookingConfirmed(3))
        yield* TestClock.adjust("2 hours")
        assert.strictEqual((yield* bus.status).dispatched, 1, "a stopped bus relays nothing")
        yield* Scope.close(scope, Exit.void)
      }).pipe(Effect.provide(layer)))

    it.effect("a subscriber to nothing fails start-up", () =>
      Effect.gen(function*() {
        const error = yield* EventBus.make({
          subscribers: [
            EventBus.subscriber({
              name: "deaf",
              events: [] as ReadonlyArray<"booking.confirmed">,
              handler: () => Effect.void
            })
          ]
        }).pipe(Effect.scoped, Effect.flip)
        assert.deepStrictEqual(error.problems, ["subscriber \"deaf\" listens to no event"])
      }).pipe(Effect.provide(layer)))
  })
