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

/** Waits until some fiber sleeps until exactly `instant`: a timer that must exist before an `adjust`. */
export const sleepingUntil = (instant: DateTime.Utc) =>
  eventually(Effect.map(TestClock.sleeps(), (wakes) => Chunk.some(wakes, (t) => t === instant.epochMillis)))
