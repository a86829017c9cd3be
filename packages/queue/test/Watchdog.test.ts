import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Option, Ref, TestClock } from "effect"
import * as Watchdog from "../src/Watchdog.js"
import { at, sleepingUntil, startClock } from "./fixtures.js"

class TimedOut {
  readonly _tag = "TimedOut"
}

const options = (timeout: Duration.DurationInput, renew: Effect.Effect<void>) => ({
  timeout: Duration.decode(timeout),
  renewEvery: Duration.seconds(10),
  renew,
  onTimeout: () => new TimedOut()
})

describe("Watchdog", () => {
  it.scoped("a run that starts later with an earlier deadline is interrupted at its own deadline", () =>
    Effect.gen(function*() {
      yield* startClock
      const watchdog = yield* Watchdog.make
      const renewals = yield* Ref.make(0)
      const renew = Ref.update(renewals, (n) => n + 1)
      const long = yield* Effect.fork(watchdog.watch(Effect.never, options("1 hour", renew)))
      // The watchdog now sleeps until the long run's first renewal, at 10 s.
      yield* sleepingUntil(at("10 seconds"))
      const interrupted = yield* Deferred.make<void>()
      const short = yield* Effect.fork(
        watchdog.watch(Effect.never.pipe(Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined))), {
          ...options("3 seconds", renew),
          renewEvery: Duration.minutes(1)
        })
      )
      yield* sleepingUntil(at("3 seconds"))
      yield* TestClock.adjust("3 seconds")
      const exit = yield* Fiber.join(short)
      assert.isTrue(Exit.isFailure(exit) && exit.cause._tag === "Fail" && exit.cause.error instanceof TimedOut)
      assert.isTrue(yield* Deferred.isDone(interrupted), "the handler was interrupted before the run returned")
      assert.strictEqual(yield* Ref.get(renewals), 0)
      // The long run goes on, renewed every 10 s.
      yield* sleepingUntil(at("10 seconds"))
      yield* TestClock.adjust("7 seconds")
      yield* sleepingUntil(at("20 seconds"))
      assert.strictEqual(yield* Ref.get(renewals), 1)
      assert.isTrue(Option.isNone(yield* Fiber.poll(long)), "the long run still runs")
      yield* Fiber.interrupt(long)
    }))

  it.scoped("a handler that ends in time gives its own exit; interrupting the run interrupts the handler", () =>
    Effect.gen(function*() {
      yield* startClock
      const watchdog = yield* Watchdog.make
      const exit = yield* watchdog.watch(Effect.fail("nope" as const), options("1 minute", Effect.void))
      assert.deepStrictEqual(exit, Exit.fail("nope"))
      const ended = yield* Ref.make(false)
      const endedFirst = yield* Ref.make(false)
      const started = yield* Deferred.make<void>()
      const run = yield* Effect.fork(
        watchdog.watch(
          Deferred.succeed(started, undefined).pipe(
            Effect.zipRight(Effect.never),
            // A finalizer that takes time: the run must wait for it, not return past it.
            Effect.onInterrupt(() => Effect.zipRight(Effect.yieldNow(), Ref.set(ended, true)))
          ),
          options("1 minute", Effect.void)
        ).pipe(
          // What the worker does next (hand the task back) must find the handler ended.
          Effect.onInterrupt(() => Effect.flatMap(Ref.get(ended), (e) => Ref.set(endedFirst, e)))
        )
      )
      yield* Deferred.await(started)
      yield* Fiber.interrupt(run)
      assert.isTrue(yield* Ref.get(endedFirst))
    }))
})
