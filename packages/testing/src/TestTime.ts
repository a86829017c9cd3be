import type { Duration } from "effect"
import { Chunk, DateTime, Effect, TestClock, TestServices } from "effect"

/** A realistic instant to start every test at: TestClock otherwise starts at 1970. */
export const T0 = DateTime.unsafeMake("2026-03-02T09:00:00.000Z")

export const startClock = TestClock.setTime(DateTime.toEpochMillis(T0))

export const at = (offset: Duration.DurationInput) => DateTime.addDuration(T0, offset)

/**
 * Waits in real time (the TestClock does not move) until `check` holds, failing after `timeoutMs`:
 * what tests use when forked fibers do real I/O.
 */
export const eventually = <E, R>(
  check: Effect.Effect<boolean, E, R>,
  timeoutMs = 10_000
): Effect.Effect<void, E, R> =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeoutMs
    while (!(yield* check)) {
      if (Date.now() > deadline) return yield* Effect.dieMessage("condition not reached in time")
      yield* TestServices.provideLive(Effect.sleep("5 millis"))
    }
  })

/** Waits until at least `count` fibers sleep on the TestClock, so that an `adjust` reaches them. */
export const sleepers = (count: number) =>
  eventually(Effect.map(TestClock.sleeps(), (sleeps) => sleeps.length >= count))

/**
 * Waits until `count` fibers (one by default) sleep until exactly `instant`: timers that must exist
 * before an `adjust`.
 */
export const sleepingUntil = (instant: DateTime.Utc, count = 1) =>
  eventually(Effect.map(
    TestClock.sleeps(),
    (wakes) => Chunk.size(Chunk.filter(wakes, (t) => t === instant.epochMillis)) >= count
  ))

/**
 * Lets forked fibers run until they all wait on the clock: the number of pending sleeps stops
 * changing. Without it a loop that has not reached its sleep yet would miss a `TestClock.adjust`.
 */
export const settle = Effect.gen(function*() {
  let last = -1
  let stable = 0
  for (let i = 0; i < 1000 && stable < 10; i++) {
    yield* Effect.yieldNow()
    const pending = (yield* TestClock.sleeps()).length
    stable = pending === last ? stable + 1 : 0
    last = pending
  }
})

/** Moves the TestClock with every forked loop asleep before and after, so no tick is missed. */
export const advance = (duration: Duration.DurationInput) =>
  settle.pipe(Effect.zipRight(TestClock.adjust(duration)), Effect.zipRight(settle))
