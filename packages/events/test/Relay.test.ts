import { TaskStore, Worker } from "@clinic/queue"
import { sqlClientLayer } from "@clinic/repository/MemoryDb"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Layer, Ref, Stream } from "effect"
import * as EventBus from "../src/EventBus.js"
import { OutboxStore } from "../src/OutboxStore.js"
import { bookingConfirmed, recording } from "./EventBusContract.js"
import { advance, at, eventually, sleepingUntil, startClock } from "./fixtures.js"

/**
 * The memory outbox with faults on demand: the relay's dispatch dies while `dispatchDown` holds, and
 * `loseListen` drops the LISTEN connection and refuses new ones until `listenDown` is cleared.
 */
const faultyOutbox = Effect.gen(function*() {
  const inner = yield* OutboxStore
  const dispatchDown = yield* Ref.make(false)
  const dispatchCalls = yield* Ref.make(0)
  const listenDown = yield* Ref.make(false)
  const connection = yield* Ref.make(yield* Deferred.make<void>())
  const store = OutboxStore.of({
    ...inner,
    dispatch: (limit, now, fanOut) =>
      Ref.update(dispatchCalls, (n) => n + 1).pipe(
        Effect.zipRight(Ref.get(dispatchDown)),
        Effect.flatMap((down) => down ? Effect.dieMessage("connection refused") : inner.dispatch(limit, now, fanOut))
      ),
    notifications: Stream.unwrap(Effect.gen(function*() {
      if (yield* Ref.get(listenDown)) return Stream.dieMessage("LISTEN: connection refused")
      const lost = yield* Ref.get(connection)
      return inner.notifications.pipe(Stream.interruptWhen(Deferred.await(lost)))
    }))
  })
  const loseListen = Effect.gen(function*() {
    yield* Ref.set(listenDown, true)
    yield* Deferred.succeed(yield* Ref.getAndSet(connection, yield* Deferred.make<void>()), undefined)
  })
  return { store, dispatchDown, dispatchCalls, listenDown, loseListen }
})

const layer = Layer.mergeAll(OutboxStore.layerMemory, TaskStore.layerMemory, sqlClientLayer)

describe("event relay", () => {
  it.scoped("survives failing iterations, backs off while the outbox is away, and catches up when it is back", () =>
    Effect.gen(function*() {
      yield* startClock
      const audit = yield* recording("audit", ["booking.confirmed"])
      const faults = yield* faultyOutbox
      yield* Ref.set(faults.dispatchDown, true)
      const bus = yield* EventBus.make({ subscribers: [audit.sub], pollInterval: "1 second" }).pipe(
        Effect.provideService(OutboxStore, faults.store)
      )
      yield* bus.start
      yield* eventually(Effect.map(bus.status, (s) => s.listening))
      yield* EventBus.publish(bookingConfirmed())
      for (let i = 0; i < 6; i++) yield* advance("10 seconds")
      const attempts = yield* Ref.get(faults.dispatchCalls)
      // Polling every second would have tried 60 times; the backoff (1, 2, 4, 8, 16, 30 s) far fewer.
      assert.isAtLeast(attempts, 5)
      assert.isAtMost(attempts, 9)
      const down = yield* bus.status
      assert.strictEqual(down.state, "running")
      assert.strictEqual(down.dispatched, 0)

      yield* Ref.set(faults.dispatchDown, false)
      yield* advance("30 seconds")
      yield* eventually(Effect.map(Ref.get(audit.seen), (seen) => seen.length === 1))
      assert.strictEqual((yield* bus.status).dispatched, 1)
    }).pipe(Effect.provide(layer)))

  it.scoped("a lost LISTEN connection falls back to polling, then listens again", () =>
    Effect.gen(function*() {
      yield* startClock
      const audit = yield* recording("audit", ["booking.confirmed"])
      const faults = yield* faultyOutbox
      const bus = yield* EventBus.make({ subscribers: [audit.sub], pollInterval: "1 minute" }).pipe(
        Effect.provideService(OutboxStore, faults.store)
      )
      yield* bus.start
      yield* eventually(Effect.map(bus.status, (s) => s.listening))

      yield* faults.loseListen
      yield* eventually(Effect.map(bus.status, (s) => !s.listening))
      yield* EventBus.publish(bookingConfirmed())
      yield* advance("1 minute") // no notification can arrive: only the poll finds it
      yield* eventually(Effect.map(bus.status, (s) => s.dispatched === 1))

      yield* Ref.set(faults.listenDown, false)
      yield* advance("30 seconds") // the listener's next attempt (its backoff is capped at 30 s)
      yield* eventually(Effect.map(bus.status, (s) => s.listening))
      // The clock stands still from here: only a notification can relay this one.
      yield* EventBus.publish(bookingConfirmed(1))
      yield* eventually(Effect.map(bus.status, (s) => s.dispatched === 2))
      yield* eventually(Effect.map(Ref.get(audit.seen), (seen) => seen.length === 2))
    }).pipe(Effect.provide(layer)))

  it.scoped("the relay wakes the delivery worker when it hands out events, without waiting for its poll", () =>
    Effect.gen(function*() {
      yield* startClock
      const audit = yield* recording("audit", ["booking.confirmed"])
      // Enqueue notifications never reach this worker: only the relay's wake-up can hurry it.
      const tasks = yield* TaskStore
      const deaf = TaskStore.of({ ...tasks, notifications: Stream.never })
      const bus = yield* EventBus.make({ subscribers: [audit.sub], concurrency: 1, pollInterval: "1 hour" }).pipe(
        Effect.provideService(TaskStore, deaf)
      )
      yield* bus.start
      yield* eventually(Effect.map(bus.status, (s) => s.listening))
      // The worker's one slot is idle until its 1-second poll, and the clock stands still.
      yield* sleepingUntil(at("1 second"))
      yield* EventBus.publish(bookingConfirmed())
      yield* eventually(Effect.map(Ref.get(audit.seen), (seen) => seen.length === 1))
    }).pipe(Effect.provide(layer)))

  it.scoped("an event handed out twice (a relay that died before stamping it) gets one delivery task per subscriber", () =>
    Effect.gen(function*() {
      yield* startClock
      const audit = yield* recording("audit", ["booking.confirmed"])
      const inner = yield* OutboxStore
      const twice = OutboxStore.of({
        ...inner,
        dispatch: (limit, now, fanOut) =>
          inner.dispatch(limit, now, (events) => Effect.zipRight(fanOut(events), fanOut(events)))
      })
      const bus = yield* EventBus.make({ subscribers: [audit.sub] }).pipe(Effect.provideService(OutboxStore, twice))
      yield* EventBus.publish(bookingConfirmed())
      assert.strictEqual(yield* bus.dispatchOnce, 1)
      const runs = yield* Worker.drain(bus.registry, bus.queue)
      assert.deepStrictEqual(runs.map((r) => r.outcome), ["succeeded"])
    }).pipe(Effect.provide(layer)))
})
