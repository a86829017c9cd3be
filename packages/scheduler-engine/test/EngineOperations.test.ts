import { assert, describe, it } from "@effect/vitest"
import { Cause, DateTime, Deferred, Effect, Exit, Fiber, Ref, Schema, TestClock } from "effect"
import * as Job from "../src/Job.js"
import * as JobSchedule from "../src/JobSchedule.js"
import { RunStore, StoreUnavailable } from "../src/RunStore.js"
import { advance, captureWarnings, engine, history, settle, startClock, summary, t0 } from "./helpers.js"

const minutely = (run: Effect.Effect<unknown, unknown>, extra: Partial<Parameters<typeof Job.make>[0]> = {}) =>
  Job.make({ name: "job", schedule: JobSchedule.every("1 minute"), run, timeout: "1 hour", ...extra })

class DiskFull extends Schema.TaggedError<DiskFull>()("DiskFull", { message: Schema.String }) {}

describe("SchedulerEngine operations (memory store, TestClock)", () => {
  it.scoped("a job's detail: its status and its recent runs, newest first, as many as asked (20 by default)", () =>
    Effect.gen(function*() {
      yield* startClock
      const scheduler = yield* engine([minutely(Effect.void)])
      yield* scheduler.start
      yield* advance("3 minutes")
      const detail = yield* scheduler.job("job", 2)
      assert.strictEqual(detail.status.name, "job")
      assert.strictEqual(detail.status.schedule, "every 1m")
      assert.deepStrictEqual(summary(detail.recentRuns), ["09:03:00 schedule succeeded", "09:02:00 schedule succeeded"])
      assert.strictEqual((yield* scheduler.job("job")).recentRuns.length, 3)
      const missing = yield* Effect.flip(scheduler.job("nope"))
      assert.strictEqual(missing._tag, "NotFound")
      assert.strictEqual(missing.message, "Job nope not found")
    }).pipe(Effect.provide(RunStore.layerMemory)))

  it.scoped("run now runs a paused job; its ticks stay skipped", () =>
    Effect.gen(function*() {
      yield* startClock
      const scheduler = yield* engine([minutely(Effect.succeed("done"))])
      yield* scheduler.pause("job", "maintenance")
      const manual = yield* scheduler.runNow("job")
      assert.deepStrictEqual([manual.outcome, manual.trigger, manual.result], ["succeeded", "manual", "done"])
      yield* scheduler.start
      yield* advance("1 minute")
      assert.deepStrictEqual(summary(yield* history("job")), ["09:00:00 manual succeeded", "09:01:00 schedule skipped"])
    }).pipe(Effect.provide(RunStore.layerMemory)))

  it.scoped("run now while the job runs returns the skipped manual run (overlap) without running it again", () =>
    Effect.gen(function*() {
      yield* startClock
      const release = yield* Deferred.make<void>()
      const runs = yield* Ref.make(0)
      const scheduler = yield* engine([
        minutely(Effect.zipRight(Ref.update(runs, (n) => n + 1), Deferred.await(release)))
      ])
      yield* scheduler.start
      yield* advance("1 minute")
      yield* advance("1 second")
      const manual = yield* scheduler.runNow("job")
      assert.deepStrictEqual([manual.outcome, manual.trigger], ["skipped", "manual"])
      assert.match(manual.error ?? "", /overlap/)
      assert.strictEqual(DateTime.toEpochMillis(manual.scheduledAt), t0 + 61_000)
      assert.strictEqual(yield* Ref.get(runs), 1)
      yield* Deferred.succeed(release, undefined)
      yield* settle
    }).pipe(Effect.provide(RunStore.layerMemory)))

  it.scoped("two run-now requests in the same millisecond run the job once; both get that run", () =>
    Effect.gen(function*() {
      yield* startClock
      const release = yield* Deferred.make<void>()
      const runs = yield* Ref.make(0)
      const scheduler = yield* engine([
        minutely(Effect.zipRight(Ref.update(runs, (n) => n + 1), Deferred.await(release)))
      ])
      const first = yield* Effect.fork(scheduler.runNow("job"))
      yield* settle
      const second = yield* scheduler.runNow("job")
      assert.strictEqual(second.outcome, "running")
      yield* Deferred.succeed(release, undefined)
      const done = yield* Fiber.join(first)
      assert.strictEqual(done.outcome, "succeeded")
      assert.strictEqual(second.id, done.id)
      assert.strictEqual(yield* Ref.get(runs), 1)
    }).pipe(Effect.provide(RunStore.layerMemory)))

  it.scoped("job names must be unique", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(engine([minutely(Effect.void), minutely(Effect.void)]))
      assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause))
      if (Exit.isFailure(exit)) {
        assert.strictEqual((Cause.squash(exit.cause) as Error).message, "job names must be unique")
      }
    }).pipe(Effect.provide(RunStore.layerMemory)))

  it.scoped("a failed run's error is text: an error by its tag or name, a tagged value as JSON, anything else as a string, at most 2000 characters", () =>
    Effect.gen(function*() {
      yield* startClock
      const failure = yield* Ref.make<Effect.Effect<never, unknown>>(Effect.void as never)
      const scheduler = yield* engine([minutely(Effect.flatten(Ref.get(failure)))])
      const errorOf = (fail: Effect.Effect<never, unknown>) =>
        Effect.gen(function*() {
          yield* Ref.set(failure, fail)
          yield* TestClock.adjust("1 millis") // one manual run per millisecond
          const run = yield* scheduler.runNow("job")
          assert.strictEqual(run.outcome, "failed")
          return run.error
        })
      assert.strictEqual(yield* errorOf(Effect.fail(new Error("disk full"))), "Error: disk full")
      assert.strictEqual(
        yield* errorOf(Effect.fail(new DiskFull({ message: "no space left" }))),
        "DiskFull: no space left"
      )
      assert.strictEqual(yield* errorOf(Effect.fail({ _tag: "Quota", used: 3 })), "{\"_tag\":\"Quota\",\"used\":3}")
      assert.strictEqual(yield* errorOf(Effect.fail({ used: 3 })), "[object Object]")
      assert.strictEqual(yield* errorOf(Effect.fail("no")), "no")
      assert.strictEqual(yield* errorOf(Effect.die(new RangeError("bad"))), "RangeError: bad")
      const long = yield* errorOf(Effect.fail(new Error("x".repeat(3000))))
      assert.strictEqual(long, `Error: ${"x".repeat(1993)}`)
    }).pipe(Effect.provide(RunStore.layerMemory)))

  it.scoped("a run interrupted by stop is recorded interrupted, with that as its error", () =>
    Effect.gen(function*() {
      yield* startClock
      const scheduler = yield* engine([minutely(Effect.never)], { stopBudget: "1 second" })
      yield* scheduler.start
      yield* advance("1 minute")
      const stopping = yield* Effect.fork(scheduler.stop)
      yield* advance("1 second")
      yield* Fiber.join(stopping)
      const [run] = yield* history("job")
      assert.deepStrictEqual([run.outcome, run.error], ["interrupted", "interrupted"])
    }).pipe(Effect.provide(RunStore.layerMemory)))

  it.scoped("missed ticks beyond the recording limit are counted in one warning; the latest are recorded, even after a failed write", () =>
    Effect.gen(function*() {
      yield* startClock
      const store = yield* RunStore
      const { layer, lines } = yield* captureWarnings
      const first = yield* engine([minutely(Effect.void)])
      yield* first.start
      yield* advance("1 minute")
      yield* first.stop
      yield* advance("330 seconds") // down over 09:02 to 09:06
      // The first missed tick written fails, as when the database drops for a moment.
      const failed = yield* Ref.make(false)
      const second = yield* engine([minutely(Effect.void)], { maxRecordedSkips: 2 }).pipe(
        Effect.provideService(
          RunStore,
          RunStore.of({
            ...store,
            recordSkip: (r) =>
              Effect.flatMap(
                Ref.getAndSet(failed, true),
                (before) => before ? store.recordSkip(r) : Effect.fail(new StoreUnavailable({ message: "reset" }))
              )
          })
        )
      )
      yield* second.start.pipe(Effect.provide(layer))
      yield* advance("1 second")
      yield* advance("1 minute")
      assert.deepStrictEqual(summary(yield* history("job")), [
        "09:01:00 schedule succeeded",
        "09:05:00 schedule skipped",
        "09:06:00 schedule skipped",
        "09:07:00 schedule succeeded"
      ])
      assert.strictEqual((yield* Ref.get(lines)).filter((l) => l === "missed ticks not recorded one by one").length, 1)
    }).pipe(Effect.provide(RunStore.layerMemory)))

  it.scoped("missed ticks beyond the recording limit leave no row and never run; the latest are recorded as missed", () =>
    Effect.gen(function*() {
      yield* startClock
      const runs = yield* Ref.make(0)
      const job = minutely(Ref.update(runs, (n) => n + 1))
      const first = yield* engine([job])
      yield* first.start
      yield* advance("1 minute")
      yield* first.stop
      yield* advance("330 seconds") // down over 09:02 to 09:06; back at 09:06:30
      const second = yield* engine([job], { maxRecordedSkips: 2 })
      yield* second.start
      yield* settle
      const rows = yield* history("job")
      assert.deepStrictEqual(summary(rows), [
        "09:01:00 schedule succeeded",
        "09:05:00 schedule skipped",
        "09:06:00 schedule skipped"
      ])
      assert.deepStrictEqual(rows.slice(1).map((r) => r.error), [
        "missed: no replica ran it on time",
        "missed: no replica ran it on time"
      ])
      assert.strictEqual(yield* Ref.get(runs), 1)
    }).pipe(Effect.provide(RunStore.layerMemory)))

  it.scoped("a tick handled exactly the late tolerance after its time runs on schedule; a millisecond later it is missed", () =>
    Effect.gen(function*() {
      yield* startClock
      const job = minutely(Effect.void)
      const first = yield* engine([job])
      yield* first.start
      yield* advance("1 minute")
      yield* first.stop
      yield* advance("65 seconds") // 09:02:05: the 09:02 tick is 5 s (the default tolerance) late
      const second = yield* engine([job])
      yield* second.start
      yield* settle
      yield* second.stop
      yield* advance("60001 millis") // 09:03:05.001: the 09:03 tick is 1 ms beyond it
      const third = yield* engine([job])
      yield* third.start
      yield* settle
      assert.deepStrictEqual(summary(yield* history("job")), [
        "09:01:00 schedule succeeded",
        "09:02:00 schedule succeeded",
        "09:03:00 schedule skipped"
      ])
    }).pipe(Effect.provide(RunStore.layerMemory)))
})
