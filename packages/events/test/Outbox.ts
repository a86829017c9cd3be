import type { DomainEvent } from "@clinic/domain"
import { DateTime, Effect, Ref } from "effect"
import { OutboxStore } from "../src/OutboxStore.js"

/** For tests: the events not yet relayed, oldest first, now marked relayed. */
export const drainOutbox = Effect.gen(function*() {
  const store = yield* OutboxStore
  const seen = yield* Ref.make<ReadonlyArray<DomainEvent>>([])
  yield* store.dispatch(
    1000,
    yield* DateTime.now,
    (events) => Ref.set(seen, events.map((e) => e.payload as DomainEvent))
  )
  return yield* Ref.get(seen)
})
