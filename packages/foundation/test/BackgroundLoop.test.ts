import { assert, describe, it } from "@effect/vitest"
import {
  Cause,
  Clock,
  Deferred,
  Duration,
  Effect,
  Exit,
  Fiber,
  HashMap,
  Logger,
  LogLevel,
  PubSub,
  Ref,
  Scope,
  Stream,
  TestClock,
  TestServices
} from "effect"
import { BackgroundLoop } from "../src/index.js"

class Unreachable extends Error {
  override readonly name = "Unreachable"
}

interface Entry {
  readonly level: LogLevel.LogLevel
  readonly message: string
  readonly cause: string
  readonly annotations: Readonly<Record<string, unknown>>
}

/** A logger that keeps every entry, so a test can count warnings. */
const captureLogs = Effect.gen(function*() {
  const entries = yield* Ref.make<ReadonlyArray<Entry>>([])
  const logger = Logger.make(({ annotations, cause, logLevel, message }) => {
    const text = Array.isArray(message) ? message.join(" ") : String(message)
    Effect.runSync(Ref.update(entries, (all) => [...all, {
      level: logLevel,
      message: text,
      cause: Cause.isEmpty(cause) ? "" : Cause.pretty(cause),
      annotations: Object.fromEntries(HashMap.toEntries(annotations))
    }]))
  })
  const at = (level: LogLevel.LogLevel) => Effect.map(Ref.get(entries), (all) => all.filter((e) => e.level === level))
  return { logger, at }
})

/** Lets forked fibers run (no time passes) until `count` of them sleep on the TestClock. */
const sleepers = (count: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < 10_000; i++) {
      if ((yield* TestClock.sleeps()).length >= count) return
      yield* Effect.yieldNow()
    }
    return yield* Effect.dieMessage(`never reached ${count} sleeping fibers`)
  })

describe("BackgroundLoop", () => {
  it("backoff doubles from its initial wait and stops at its cap", () => {
    const backoff: BackgroundLoop.Backoff = { initial: "1 second", max: "8 seconds" }
    const delays = [1, 2, 3, 4, 5, 6, 40].map((n) => Duration.toSeconds(BackgroundLoop.backoffDelay(backoff, n)))
    assert.deepStrictEqual(delays, [1, 2, 4, 8, 8, 8, 8])
  })

  it.scoped("a failing iteration is retried on the Clock with growing, capped waits", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make<ReadonlyArray<number>>([])
      const loop = yield* BackgroundLoop.make({
        name: "flaky",
        drainBudget: "1 second",
        backoff: { initial: "1 second", max: "8 seconds" },
        iterations: Effect.succeed([{
          run: Clock.currentTimeMillis.pipe(
            Effect.flatMap((now) => Ref.update(attempts, (all) => [...all, now / 1000])),
            Effect.zipRight(Effect.fail(new Unreachable("database away")))
          ),
          idle: Effect.never
        }])
      })
      yield* loop.start
      yield* sleepers(1)
      yield* TestClock.adjust("40 seconds")
      assert.deepStrictEqual(yield* Ref.get(attempts), [0, 1, 3, 7, 15, 23, 31, 39])
      assert.isTrue(yield* loop.failing)
      assert.strictEqual(yield* loop.state, "running")
    }))

  it.scoped("one warning with its cause when a dependency goes away, one info when it returns", () =>
    Effect.flatMap(captureLogs, (logs) =>
      Effect.provide(
        Effect.gen(function*() {
          const down = yield* Ref.make(true)
          const runs = yield* Ref.make(0)
          const loop = yield* BackgroundLoop.make({
            name: "relay",
            drainBudget: "1 second",
            backoff: { initial: "1 second", max: "1 second" },
            iterations: Effect.succeed([{
              run: Ref.update(runs, (n) => n + 1).pipe(
                Effect.zipRight(Ref.get(down)),
                Effect.flatMap((isDown) =>
                  isDown ? Effect.fail(new Unreachable("database away")) : Effect.succeed(false)
                )
              ),
              idle: Effect.sleep("1 second")
            }])
          })
          yield* loop.start
          yield* sleepers(1)
          yield* TestClock.adjust("30 seconds")
          assert.strictEqual(yield* Ref.get(runs), 31)
          const warnings = yield* logs.at(LogLevel.Warning)
          assert.strictEqual(warnings.length, 1)
          assert.include(warnings[0].cause, "database away")
          assert.strictEqual(warnings[0].annotations.service, "relay")
          assert.isTrue(yield* loop.failing)

          yield* Ref.set(down, false)
          yield* TestClock.adjust("30 seconds")
          const infos = yield* logs.at(LogLevel.Info)
          assert.deepStrictEqual(infos.map((e) => e.message), ["relay recovered"])
          assert.isFalse(yield* loop.failing)

          // A second outage is news again.
          yield* Ref.set(down, true)
          yield* TestClock.adjust("30 seconds")
          assert.strictEqual((yield* logs.at(LogLevel.Warning)).length, 2)
          assert.strictEqual((yield* logs.at(LogLevel.Error)).length, 0)
        }),
        Logger.add(logs.logger)
      )))

  it.scoped("state: not-started, running, stopping while it drains, stopped, and running again", () =>
    Effect.gen(function*() {
      const entered = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const starts = yield* Ref.make(0)
      const loop = yield* BackgroundLoop.make({
        name: "worker",
        drainBudget: "1 minute",
        iterations: Effect.as(Ref.update(starts, (n) => n + 1), [{
          run: Deferred.succeed(entered, undefined).pipe(Effect.zipRight(Deferred.await(release)), Effect.as(false)),
          idle: Effect.never
        }])
      })
      assert.strictEqual(yield* loop.state, "not-started")
      assert.isFalse(yield* loop.stop(), "stopping a loop that never ran does nothing")
      assert.isTrue(yield* loop.start)
      assert.isFalse(yield* loop.start, "a second start changes nothing")
      assert.strictEqual(yield* loop.state, "running")
      yield* Deferred.await(entered)

      const stopping = yield* Effect.fork(loop.stop())
      while ((yield* loop.state) !== "stopping") yield* Effect.yieldNow()
      yield* Deferred.succeed(release, undefined)
      assert.isTrue(yield* Fiber.join(stopping))
      assert.strictEqual(yield* loop.state, "stopped")
      assert.isFalse(yield* loop.stop())

      assert.isTrue(yield* loop.start)
      assert.strictEqual(yield* loop.state, "running")
      assert.strictEqual(yield* Ref.get(starts), 2, "each start builds its iterations afresh")
    }))

  it.scoped("stop lets running work finish within the budget and interrupts what runs longer", () =>
    Effect.gen(function*() {
      const finished = yield* Ref.make<ReadonlyArray<string>>([])
      const interrupted = yield* Ref.make<ReadonlyArray<string>>([])
      const work = (label: string, duration: Duration.DurationInput) =>
        Effect.sleep(duration).pipe(
          Effect.zipRight(Ref.update(finished, (all) => [...all, label])),
          Effect.onInterrupt(() => Ref.update(interrupted, (all) => [...all, label])),
          Effect.as(false)
        )
      const loop = yield* BackgroundLoop.make({
        name: "worker",
        drainBudget: "5 seconds",
        iterations: Effect.succeed([
          { run: work("quick", "2 seconds"), idle: Effect.never },
          { run: work("slow", "1 minute"), idle: Effect.never }
        ])
      })
      yield* loop.start
      // Work launched by the loop that outlives its iteration is drained under the same budget.
      yield* loop.fork(work("forked", "3 seconds"))
      yield* sleepers(3)
      const stopping = yield* Effect.fork(loop.stop())
      yield* sleepers(4) // the budget's timer
      yield* TestClock.adjust("5 seconds")
      yield* Fiber.join(stopping)
      assert.deepStrictEqual(yield* Ref.get(finished), ["quick", "forked"])
      assert.deepStrictEqual(yield* Ref.get(interrupted), ["slow"])
      assert.strictEqual(yield* loop.state, "stopped")
    }))

  it.scoped("stop ends idle waits and backoffs at once and takes no new work", () =>
    Effect.gen(function*() {
      const runs = yield* Ref.make(0)
      const loop = yield* BackgroundLoop.make({
        name: "poller",
        drainBudget: "1 hour",
        backoff: { initial: "1 hour", max: "1 hour" },
        iterations: Effect.succeed([
          { run: Effect.as(Ref.update(runs, (n) => n + 1), false), idle: Effect.never },
          { run: Effect.zipRight(Ref.update(runs, (n) => n + 1), Effect.fail("away")), idle: Effect.never }
        ])
      })
      yield* loop.start
      yield* sleepers(1) // the backoff; the other fiber idles forever
      yield* loop.stop()
      assert.strictEqual(yield* loop.state, "stopped")
      yield* TestClock.adjust("1 day")
      assert.strictEqual(yield* Ref.get(runs), 2)
    }))

  it.scoped("a start whose setup dies closes what it made and can be tried again", () =>
    Effect.gen(function*() {
      const broken = yield* Ref.make(true)
      const closed = yield* Ref.make(0)
      const loop = yield* BackgroundLoop.make({
        name: "fragile",
        drainBudget: "1 second",
        iterations: Effect.gen(function*() {
          yield* Effect.addFinalizer(() => Ref.update(closed, (n) => n + 1))
          if (yield* Ref.get(broken)) return yield* Effect.dieMessage("bad configuration")
          return [{ run: Effect.succeed(false), idle: Effect.never }]
        })
      })
      const failed = yield* Effect.exit(loop.start)
      assert.isTrue(Exit.isFailure(failed))
      assert.strictEqual(yield* loop.state, "not-started")
      assert.strictEqual(yield* Ref.get(closed), 1)
      yield* Ref.set(broken, false)
      assert.isTrue(yield* loop.start)
      assert.strictEqual(yield* loop.state, "running")
    }))

  it.effect("closing the owner's scope drains running work, then closes the start's scope", () =>
    Effect.gen(function*() {
      const entered = yield* Deferred.make<void>()
      const events = yield* Ref.make<ReadonlyArray<string>>([])
      const note = (event: string) => Ref.update(events, (all) => [...all, event])
      const owner = yield* Scope.make()
      const loop = yield* BackgroundLoop.make({
        name: "owned",
        drainBudget: "1 minute",
        iterations: Effect.as(Effect.addFinalizer(() => note("start scope closed")), [{
          run: Deferred.succeed(entered, undefined).pipe(
            Effect.zipRight(Effect.sleep("10 seconds")),
            Effect.zipRight(note("work finished")),
            Effect.as(false)
          ),
          idle: Effect.never
        }])
      }).pipe(Scope.extend(owner))
      yield* loop.start
      yield* Deferred.await(entered)
      const closing = yield* Effect.fork(Scope.close(owner, Exit.void))
      yield* sleepers(2) // the work and the budget
      yield* TestClock.adjust("10 seconds")
      yield* Fiber.join(closing)
      assert.deepStrictEqual(yield* Ref.get(events), ["work finished", "start scope closed"])
      assert.strictEqual(yield* loop.state, "stopped")
    }))

  it.scoped("listen: live once its probe comes back; one warning when lost, one info when it is back", () =>
    Effect.flatMap(captureLogs, (logs) =>
      Effect.provide(
        Effect.gen(function*() {
          const hub = yield* PubSub.unbounded<string>()
          const down = yield* Ref.make(false)
          const attempts = yield* Ref.make(0)
          const heard = yield* Ref.make<ReadonlyArray<string>>([])
          const drop = yield* Ref.make(yield* Deferred.make<void>())
          const live = yield* BackgroundLoop.listen({
            name: "bus",
            notifications: Stream.unwrap(Effect.gen(function*() {
              yield* Ref.update(attempts, (n) => n + 1)
              if (yield* Ref.get(down)) return Stream.dieMessage("connection refused")
              return Stream.fromPubSub(hub).pipe(Stream.interruptWhen(Deferred.await(yield* Ref.get(drop))))
            })),
            ping: (payload) => PubSub.publish(hub, payload),
            onNotification: (payload) => Ref.update(heard, (all) => [...all, payload])
          })
          // The probe travels on real time (it waits for I/O): poll for it with a deadline.
          const until = (check: Effect.Effect<boolean>) =>
            Effect.gen(function*() {
              for (let i = 0; i < 400 && !(yield* check); i++) yield* TestServices.provideLive(Effect.sleep("5 millis"))
              assert.isTrue(yield* check)
            })
          yield* until(live)
          yield* PubSub.publish(hub, "booking.confirmed")
          yield* until(Effect.map(Ref.get(heard), (all) => all.length === 1))

          yield* Ref.set(down, true)
          yield* Deferred.succeed(yield* Ref.get(drop), undefined)
          yield* until(Effect.map(live, (l) => !l))
          yield* sleepers(1)
          yield* TestClock.adjust("10 minutes")
          assert.isAbove(yield* Ref.get(attempts), 20, "it kept trying, with a capped backoff")
          assert.isFalse(yield* live)
          yield* Ref.set(drop, yield* Deferred.make<void>())
          yield* Ref.set(down, false)
          yield* sleepers(1)
          yield* TestClock.adjust("30 seconds")
          yield* until(live)

          assert.strictEqual((yield* logs.at(LogLevel.Warning)).length, 1)
          assert.deepStrictEqual((yield* logs.at(LogLevel.Info)).map((e) => e.message), ["bus notifications are back"])
          assert.deepStrictEqual(yield* Ref.get(heard), ["booking.confirmed"], "probes are not notifications")
        }),
        Logger.add(logs.logger)
      )))
})
