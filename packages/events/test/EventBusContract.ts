import { AuthSessionId, BookingId, DomainEvent, EventId, PatientId, UserId } from "@clinic/domain"
import { Backoff, TaskQueue, type TaskStore, Worker } from "@clinic/queue"
import type { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Context, DateTime, Deferred, Effect, Exit, Fiber, Layer, Option, Ref, Schema, Scope, TestClock } from "effect"
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
        assert.isFalse((yield* bus.status).listening, "nothing listens before the start")
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
        assert.isFalse((yield* bus.status).listening, "nothing listens after the stop")

        yield* EventBus.publish(bookingConfirmed(3))
        yield* TestClock.adjust("2 hours")
        assert.strictEqual((yield* bus.status).dispatched, 1, "a stopped bus relays nothing")
        yield* Scope.close(scope, Exit.void)
      }).pipe(Effect.provide(layer)))

    it.scoped("publishAll writes every event at one instant and returns their ids; an empty list writes nothing", () =>
      Effect.gen(function*() {
        yield* startClock
        const store = yield* OutboxStore
        const audit = yield* recording("audit", ["booking.confirmed"])
        const bus = yield* EventBus.make({ subscribers: [audit.sub] })
        assert.strictEqual(bus.queue, "events", "the default queue")
        assert.deepStrictEqual(yield* EventBus.publishAll([]), [])
        assert.deepStrictEqual(yield* store.recent(10), [])
        yield* TestClock.adjust("5 minutes")
        const events = [bookingConfirmed(1), bookingConfirmed(2)]
        const ids = yield* EventBus.publishAll(events)
        assert.strictEqual(ids.length, 2)
        assert.notStrictEqual(ids[0], ids[1])
        // UUIDv7 stamped with the instant, so the outbox's key index takes them at its right end.
        const millis = at("5 minutes").epochMillis.toString(16).padStart(12, "0")
        for (const id of ids) {
          assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
          assert.strictEqual(id.replace("-", "").slice(0, 12), millis)
        }
        for (const [i, id] of ids.entries()) {
          const stored = Option.getOrThrow(yield* store.get(id))
          assert.strictEqual(stored.type, "booking.confirmed")
          assert.deepStrictEqual(yield* Schema.decodeUnknown(DomainEvent)(stored.payload), events[i])
          assert.strictEqual(stored.occurredAt.epochMillis, at("5 minutes").epochMillis)
          assert.isNull(stored.dispatchedAt)
        }
        assert.strictEqual(yield* bus.dispatchOnce, 2)
        yield* Worker.drain(bus.registry, "events")
        const bookings = events.map((e) => `booking.confirmed ${(e as { bookingId: string }).bookingId}`)
        assert.deepStrictEqual([...(yield* Ref.get(audit.seen))].sort(), [...bookings].sort())
      }).pipe(Effect.provide(layer)))

    it.scoped("the relay hands out the oldest events first (ties in id order), a batch at a time", () =>
      Effect.gen(function*() {
        yield* startClock
        const store = yield* OutboxStore
        const audit = yield* recording("audit", ["booking.confirmed"])
        const bus = yield* EventBus.make({ subscribers: [audit.sub], batchSize: 1 })
        // Written out of order: the outbox, not the order of writing, decides.
        const rows = [
          { id: "40000000-0000-4000-8000-000000000000", occurredAt: at("2 seconds") },
          { id: "20000000-0000-4000-8000-000000000000", occurredAt: at("0 seconds") },
          { id: "30000000-0000-4000-8000-000000000000", occurredAt: at("1 second") },
          { id: "10000000-0000-4000-8000-000000000000", occurredAt: at("0 seconds") }
        ]
        const bookingOf = new Map<string, string>()
        for (const [i, row] of rows.entries()) {
          const event = bookingConfirmed(i)
          bookingOf.set(row.id, (event as { bookingId: string }).bookingId)
          yield* store.insert({
            id: EventId.make(row.id),
            type: event._tag,
            payload: yield* Schema.encode(DomainEvent)(event),
            occurredAt: row.occurredAt,
            traceParent: null
          })
        }
        yield* TestClock.adjust("1 minute")
        const order: Array<string> = []
        for (let i = 0; i < rows.length; i++) {
          assert.strictEqual(yield* bus.dispatchOnce, 1, "one event per batch")
          yield* Worker.drain(bus.registry, bus.queue)
          const seen = yield* Ref.get(audit.seen)
          order.push(seen[seen.length - 1])
        }
        assert.strictEqual(yield* bus.dispatchOnce, 0)
        const expected = ["1", "2", "3", "4"].map((d) =>
          `booking.confirmed ${bookingOf.get(`${d}0000000-0000-4000-8000-000000000000`)}`
        )
        assert.deepStrictEqual(order, expected)
      }).pipe(Effect.provide(layer)))

    it.scoped("a batch holds at most 100 events by default", () =>
      Effect.gen(function*() {
        yield* startClock
        const audit = yield* recording("audit", ["booking.confirmed"])
        const bus = yield* EventBus.make({ subscribers: [audit.sub] })
        yield* EventBus.publishAll(Array.from({ length: 101 }, (_, i) => bookingConfirmed(i)))
        assert.strictEqual(yield* bus.dispatchOnce, 100)
        assert.strictEqual(yield* bus.dispatchOnce, 1)
        assert.strictEqual(yield* bus.dispatchOnce, 0)
      }).pipe(Effect.provide(layer)))

    it.scoped("a running relay goes again at once while its batches come back full", () =>
      Effect.gen(function*() {
        yield* startClock
        const audit = yield* recording("audit", ["booking.confirmed"])
        const bus = yield* EventBus.make({ subscribers: [audit.sub], batchSize: 2, pollInterval: "1 hour" })
        // Written before the start: no notification will ever mention them, and the clock stands still.
        yield* EventBus.publishAll(Array.from({ length: 5 }, (_, i) => bookingConfirmed(i)))
        yield* bus.start
        yield* eventually(Effect.map(bus.status, (s) => s.dispatched === 5))
        yield* eventually(Effect.map(Ref.get(audit.seen), (seen) => seen.length === 5))
      }).pipe(Effect.provide(layer)))

    it.scoped("the handler is told the event's id and time, its own name and the attempt", () =>
      Effect.gen(function*() {
        yield* startClock
        const contexts = yield* Ref.make<ReadonlyArray<EventBus.DeliveryContext>>([])
        const sub = EventBus.subscriber({
          name: "curious",
          events: ["booking.confirmed"],
          backoff: noJitter,
          handler: (_event, context) =>
            Effect.flatMap(
              Ref.updateAndGet(contexts, (all) => [...all, context]),
              (all) => all.length === 1 ? Effect.fail("first attempt fails") : Effect.void
            )
        })
        const bus = yield* EventBus.make({ subscribers: [sub] })
        yield* TestClock.adjust("5 minutes")
        const eventId = yield* EventBus.publish(bookingConfirmed())
        yield* TestClock.adjust("1 minute")
        yield* bus.dispatchOnce
        yield* Worker.drain(bus.registry, bus.queue)
        yield* TestClock.adjust("1 second")
        yield* Worker.drain(bus.registry, bus.queue)
        const seen = (yield* Ref.get(contexts)).map((c) => ({ ...c, occurredAt: c.occurredAt.epochMillis }))
        const expected = { eventId, occurredAt: at("5 minutes").epochMillis, subscriber: "curious" }
        assert.deepStrictEqual(seen, [{ ...expected, attempt: 1 }, { ...expected, attempt: 2 }])
      }).pipe(Effect.provide(layer)))

    it.scoped("a subscriber that keeps failing gets 8 attempts by default, then its delivery is dead", () =>
      Effect.gen(function*() {
        yield* startClock
        const calls = yield* Ref.make(0)
        const hopeless = EventBus.subscriber({
          name: "hopeless",
          events: ["booking.confirmed"],
          backoff: noJitter,
          handler: () => Effect.zipRight(Ref.update(calls, (n) => n + 1), Effect.fail("always"))
        })
        assert.strictEqual(hopeless.maxAttempts, 8)
        const bus = yield* EventBus.make({ subscribers: [hopeless] })
        yield* EventBus.publish(bookingConfirmed())
        yield* bus.dispatchOnce
        const outcomes: Array<string> = []
        for (let i = 0; i < 10; i++) {
          for (const run of yield* Worker.drain(bus.registry, bus.queue)) outcomes.push(run.outcome)
          yield* TestClock.adjust("1 minute")
        }
        assert.deepStrictEqual(outcomes, [...Array.from({ length: 7 }, () => "retried"), "dead"])
        assert.strictEqual(yield* Ref.get(calls), 8)
      }).pipe(Effect.provide(layer)))

    it.scoped("an event pruned from the outbox before its delivery is skipped, not retried", () =>
      Effect.gen(function*() {
        yield* startClock
        const audit = yield* recording("audit", ["booking.confirmed"])
        const bus = yield* EventBus.make({ subscribers: [audit.sub] })
        const eventId = yield* EventBus.publish(bookingConfirmed())
        yield* bus.dispatchOnce
        yield* TestClock.adjust("2 hours")
        assert.strictEqual(yield* EventBus.pruneDispatched("1 hour"), 1)
        const results = yield* Worker.drain(bus.registry, bus.queue)
        assert.deepStrictEqual(results.map((r) => r.outcome), ["succeeded"])
        assert.strictEqual(yield* Ref.get(audit.calls), 0)
        assert.isFalse(yield* (yield* OutboxStore).isProcessed(eventId, "audit"))
      }).pipe(Effect.provide(layer)))

    it.scoped("events not yet relayed are never pruned, however old", () =>
      Effect.gen(function*() {
        yield* startClock
        const audit = yield* recording("audit", ["booking.confirmed"])
        const bus = yield* EventBus.make({ subscribers: [audit.sub] })
        const eventId = yield* EventBus.publish(bookingConfirmed())
        yield* TestClock.adjust("2 days")
        assert.strictEqual(yield* EventBus.pruneDispatched("1 hour"), 0)
        assert.isTrue(Option.isSome(yield* (yield* OutboxStore).get(eventId)))
        assert.strictEqual(yield* bus.dispatchOnce, 1)
      }).pipe(Effect.provide(layer)))

    it.scoped("the outbox lists the latest events newest first and who handled each", () =>
      Effect.gen(function*() {
        yield* startClock
        const store = yield* OutboxStore
        const ids = [
          "30000000-0000-4000-8000-000000000000",
          "10000000-0000-4000-8000-000000000000",
          "20000000-0000-4000-8000-000000000000",
          "40000000-0000-4000-8000-000000000000"
        ].map((id) => EventId.make(id))
        const times = [at("1 second"), at("2 seconds"), at("2 seconds"), at("0 seconds")]
        for (const [i, id] of ids.entries()) {
          yield* store.insert({
            id,
            type: "booking.confirmed",
            payload: yield* Schema.encode(DomainEvent)(bookingConfirmed(i)),
            occurredAt: times[i],
            traceParent: null
          })
        }
        const listed = yield* store.recent(3)
        assert.deepStrictEqual(listed.map((e) => e.id), [ids[2], ids[1], ids[0]])

        const now = yield* DateTime.now
        assert.isTrue(yield* store.markProcessed(ids[0], "audit", now))
        assert.isTrue(yield* store.markProcessed(ids[0], "mail", now))
        assert.isTrue(yield* store.markProcessed(ids[1], "audit", now))
        assert.isFalse(yield* store.markProcessed(ids[0], "audit", now), "already recorded")
        assert.deepStrictEqual([...(yield* store.processedBy(ids[0]))].sort(), ["audit", "mail"])
        assert.deepStrictEqual(yield* store.processedBy(ids[1]), ["audit"])
        assert.deepStrictEqual(yield* store.processedBy(ids[2]), [])
      }).pipe(Effect.provide(layer)))

    it.scoped("a stop under a budget hands back the deliveries still running after it; stopping a bus never started does nothing", () =>
      Effect.gen(function*() {
        yield* startClock
        const started = yield* Deferred.make<void>()
        const interrupted = yield* Deferred.make<void>()
        const calls = yield* Ref.make(0)
        const stuck = EventBus.subscriber({
          name: "stuck",
          events: ["booking.confirmed"],
          handler: () =>
            Ref.update(calls, (n) => n + 1).pipe(
              Effect.zipRight(Deferred.succeed(started, undefined)),
              Effect.zipRight(Effect.never),
              Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined))
            )
        })
        const idle = yield* EventBus.make({ subscribers: [stuck], queue: "idle" })
        yield* idle.stop()
        assert.strictEqual((yield* idle.status).state, "not-started")

        const bus = yield* EventBus.make({ subscribers: [stuck], pollInterval: "1 hour", shutdownBudget: "1 hour" })
        yield* bus.start
        yield* eventually(Effect.map(bus.status, (s) => s.listening))
        yield* EventBus.publish(bookingConfirmed())
        yield* eventually(Deferred.isDone(started))
        const stopping = yield* Effect.fork(bus.stop("1 second"))
        yield* sleepingUntil(at("1 second"))
        yield* TestClock.adjust("1 second")
        // The caller's budget, not the configured hour, bounds the wait.
        yield* eventually(Effect.map(Fiber.poll(stopping), Option.isSome))
        assert.isTrue(yield* Deferred.isDone(interrupted))
        assert.strictEqual((yield* bus.status).state, "stopped")
        // Handed back, not left to its lease: a worker takes it up again at once.
        const again = yield* Effect.fork(Worker.drain(bus.registry, bus.queue))
        yield* eventually(Effect.map(Ref.get(calls), (n) => n === 2))
        yield* Fiber.interrupt(again)
      }).pipe(Effect.provide(layer)))

    it.scoped("the bus as a layer runs for the life of the layer", () =>
      Effect.gen(function*() {
        yield* startClock
        const audit = yield* recording("audit", ["booking.confirmed"])
        const scope = yield* Scope.make()
        const context = yield* Layer.buildWithScope(
          EventBus.layer({ subscribers: [audit.sub], pollInterval: "1 hour" }),
          scope
        )
        const bus = Context.get(context, EventBus.EventBus)
        assert.strictEqual((yield* bus.status).state, "running")
        yield* eventually(Effect.map(bus.status, (s) => s.listening))
        yield* EventBus.publish(bookingConfirmed())
        yield* eventually(Effect.map(Ref.get(audit.seen), (seen) => seen.length === 1))
        yield* Scope.close(scope, Exit.void)
        assert.strictEqual((yield* bus.status).state, "stopped")
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
