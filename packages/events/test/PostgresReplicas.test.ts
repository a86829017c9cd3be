import { TaskStore } from "@clinic/queue"
import * as TestDatabase from "@clinic/repository/testing/TestDatabase"
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Option, Ref, Scope } from "effect"
import * as EventBus from "../src/EventBus.js"
import { OutboxStore } from "../src/OutboxStore.js"
import { bookingConfirmed } from "./EventBusContract.js"
import { eventually, startClock } from "./fixtures.js"

const layer = Layer.mergeAll(OutboxStore.layerPg, TaskStore.layerPg).pipe(Layer.provideMerge(TestDatabase.layer))

describe("event bus on Postgres: transactions and replicas", () => {
  it.scoped("an event exists only if the change that published it commits", () =>
    Effect.gen(function*() {
      yield* startClock
      const sql = yield* SqlClient.SqlClient
      const store = yield* OutboxStore
      const aborted = yield* Effect.gen(function*() {
        const id = yield* EventBus.publish(bookingConfirmed())
        return yield* Effect.fail({ _tag: "Abort" as const, id })
      }).pipe(sql.withTransaction, Effect.flip)
      assert.strictEqual(aborted._tag, "Abort")
      if (aborted._tag === "Abort") assert.isTrue(Option.isNone(yield* store.get(aborted.id)))
      const kept = yield* EventBus.publish(bookingConfirmed()).pipe(sql.withTransaction, Effect.orDie)
      assert.isTrue(Option.isSome(yield* store.get(kept)))
      const bus = yield* EventBus.make({
        subscribers: [EventBus.subscriber({ name: "s", events: ["booking.confirmed"], handler: () => Effect.void })]
      })
      assert.strictEqual(yield* bus.dispatchOnce, 1)
    }).pipe(Effect.provide(layer)))

  it.scoped("two replicas running the same subscribers handle each event once per subscriber", () =>
    Effect.gen(function*() {
      yield* startClock
      const sql = yield* SqlClient.SqlClient
      const handled = yield* Ref.make<ReadonlyMap<string, number>>(new Map())
      const count = (key: string) => Ref.update(handled, (m) => new Map(m).set(key, (m.get(key) ?? 0) + 1))
      const subscribers = ["email", "audit"].map((name) =>
        EventBus.subscriber({
          name,
          events: ["booking.confirmed"],
          handler: (event) =>
            // A real statement inside the delivery's transaction, as handlers that write do.
            sql`SELECT pg_sleep(0.002)`.pipe(Effect.orDie, Effect.zipRight(count(`${name} ${event.bookingId}`)))
        })
      )
      const scope = yield* Scope.make()
      const replicas = yield* Effect.all([
        EventBus.make({ subscribers, concurrency: 3 }),
        EventBus.make({ subscribers, concurrency: 3 })
      ]).pipe(Scope.extend(scope))
      yield* Effect.forEach(replicas, (bus) => bus.start)
      yield* eventually(
        Effect.map(
          Effect.forEach(replicas, (bus) => bus.status),
          (all) => all.every((s) => s.listening && Option.exists(s.worker, (w) => w.listening))
        )
      )
      const total = 25
      yield* Effect.forEach(Array.from({ length: total }, (_, n) => n), (n) => EventBus.publish(bookingConfirmed(n)), {
        concurrency: 4
      })
      yield* eventually(Effect.map(Ref.get(handled), (m) => m.size === total * 2), 20_000)
      yield* Scope.close(scope, Exit.void)
      const counts = [...(yield* Ref.get(handled)).values()]
      assert.strictEqual(counts.length, total * 2)
      assert.isTrue(counts.every((c) => c === 1), "each subscriber handled each event once")
      const statuses = yield* Effect.forEach(replicas, (bus) => bus.status)
      assert.strictEqual(statuses[0].dispatched + statuses[1].dispatched, total, "each event relayed by one replica")
      const processed = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM processed_events`
      assert.strictEqual(processed[0].n, total * 2)
    }).pipe(Effect.provide(layer)))
})
