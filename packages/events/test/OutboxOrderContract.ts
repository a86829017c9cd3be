import { DomainEvent, EventId } from "@clinic/domain"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, type Layer, Ref, Schema } from "effect"
import { OutboxStore } from "../src/OutboxStore.js"
import { bookingConfirmed } from "./EventBusContract.js"
import { startClock } from "./fixtures.js"

/**
 * How an outbox orders events written at the same instant (a `publishAll` writes every event at
 * one): by id, ascending for the relay and descending for the operator's listing, whatever order
 * they were written in. Run against each outbox.
 */
export const outboxOrderContract = (name: string, layer: Layer.Layer<OutboxStore>) =>
  describe(`outbox order (${name})`, () => {
    it.effect("events of the same instant are relayed in id order and listed in reverse id order", () =>
      Effect.gen(function*() {
        yield* startClock
        const store = yield* OutboxStore
        const now = yield* DateTime.now
        const [first, second, third] = [
          "10000000-0000-4000-8000-000000000000",
          "20000000-0000-4000-8000-000000000000",
          "30000000-0000-4000-8000-000000000000"
        ].map((id) => EventId.make(id))
        // Neither in id order nor in its reverse, so that the order of writing cannot pass for either.
        for (const [i, id] of [second, first, third].entries()) {
          yield* store.insert({
            id,
            type: "booking.confirmed",
            payload: yield* Schema.encode(DomainEvent)(bookingConfirmed(i)),
            occurredAt: now,
            traceParent: null
          })
        }
        assert.deepStrictEqual((yield* store.recent(10)).map((e) => e.id), [third, second, first])
        const relayed = yield* Ref.make<ReadonlyArray<EventId>>([])
        assert.strictEqual(
          yield* store.dispatch(10, now, (events) => Ref.set(relayed, events.map((e) => e.id))),
          3
        )
        assert.deepStrictEqual(yield* Ref.get(relayed), [first, second, third])
      }).pipe(Effect.provide(layer)))
  })
