import { assert, describe, it } from "@effect/vitest"
import {
  Context,
  DateTime,
  Deferred,
  type Duration,
  Effect,
  FastCheck,
  Fiber,
  Layer,
  Metric,
  Option,
  Ref,
  TestClock
} from "effect"
import * as Job from "../src/Job.js"
import * as JobSchedule from "../src/JobSchedule.js"
import * as Metrics from "../src/Metrics.js"
import { RunStore, type RunStoreShape, StoreUnavailable } from "../src/RunStore.js"
import { advance, captureWarnings, engine, history, settle, startClock, summary, t0 } from "./helpers.js"

const counter = Effect.gen(function*() {
  const count = yield* Ref.make(0)
  return { count, run: Ref.updateAndGet(count, (n) => n + 1).pipe(Effect.map((n) => ({ run: n }))) }
})

const every = (name: string, interval: Duration.DurationInput, run: Effect.Effect<unknown, unknown>, extra = {}) =>
  Job.make({ name, schedule: JobSchedule.every(interval), run, ...extra })

class StoreDown extends Context.Tag("test/StoreDown")<StoreDown, Ref.Ref<boolean>>() {}

/** `base` as a replica sees it: the calls that drive ticks fail while `down`, as when the database is unreachable. */
const guarded = (base: RunStoreShape, down: Ref.Ref<boolean>): RunStoreShape => {
  const guard = <A>(effect: Effect.Effect<A, StoreUnavailable>) =>
    Effect.flatMap(
      Ref.get(down),
      (isDown) => isDown ? Effect.fail(new StoreUnavailable({ message: "connection refused" })) : effect
    )
  return RunStore.of({
    ...base,
    claim: (r) => guard(base.claim(r)),
    recordSkip: (r) => guard(base.recordSkip(r)),
    lastScheduled: (job) => guard(base.lastScheduled(job))
  })
}

/** A memory store whose calls fail while `StoreDown` is true. */
const flakyStore = Layer.effect(
  RunStore,
  Effect.map(Effect.all([RunStore, StoreDown]), ([base, down]) => guarded(base, down))
).pipe(Layer.provideMerge(RunStore.layerMemory), Layer.provideMerge(Layer.effect(StoreDown, Ref.make(false))))

describe("SchedulerEngine (memory store, TestClock)", () => {
  it.scoped("status before start: not started, jobs with schedule and next fire times, nothing running", () =>
    Effect.gen(function*() {
      yield* startClock
      const { run } = yield* counter
      const scheduler = yield* engine([every("session-cleanup", "15 minutes", run)])
      const status = yield* scheduler.status
      assert.strictEqual(status.state, "not-started")
      assert.strictEqual(status.jobs.length, 1)
      const job = status.jobs[0]
      assert.strictEqual(job.schedule, "every 15m")
      assert.isFalse(job.running)
      assert.isFalse(job.paused)
      assert.isNull(job.lastRun)
      assert.deepStrictEqual(job.nextRuns.map((t) => DateTime.formatIso(t).slice(11, 16)), [
        "09:15",
        "09:30",
        "09:45",
        "10:00",
        "10:15"
      ])
    }).pipe(Effect.provide(RunStore.layerMemory)))

  it.scoped("start runs a job at the default interval (15 min) and another at a custom one (5 min)", () =>
    Effect.gen(function*() {
      yield* startClock
      const sessions = yield* counter
      const bookings = yield* counter
      const scheduler = yield* engine([
        every("session-cleanup", "15 minutes", sessions.run),
        every("booking-expiry", "5 minutes", bookings.run)
      ])
      yield* scheduler.start
      assert.strictEqual((yield* scheduler.status).state, "running")
      yield* advance("14 minutes")
      assert.strictEqual(yield* Ref.get(sessions.count), 0)
      assert.strictEqual(yield* Ref.get(bookings.count), 2)
      yield* advance("1 minute")
      assert.strictEqual(yield* Ref.get(sessions.count), 1)
      yield* advance("45 minutes")
      assert.strictEqual(yield* Ref.get(sessions.count), 4)
      assert.strictEqual(yield* Ref.get(bookings.count), 12)
      const runs = yield* history("session-cleanup")
      assert.deepStrictEqual(summary(runs), [
        "09:15:00 schedule succeeded",
        "09:30:00 schedule succeeded",
        "09:45:00 schedule succeeded",
        "10:00:00 schedule succeeded"
      ])
      assert.deepStrictEqual(runs[3].result, { run: 4 })
      assert.strictEqual(runs[3].replica, "replica-a")
    }).pipe(Effect.provide(RunStore.layerMemory)))

  it.scoped("a second start warns and changes nothing (no second loop)", () =>
    Effect.gen(function*() {
      yield* startClock
      const { count, run } = yield* counter
      const scheduler = yield* engine([every("job", "1 minute", run)])
      const { layer, lines } = yield* captureWarnings
      yield* scheduler.start
      yield* scheduler.start.pipe(Effect.provide(layer))
      assert.deepStrictEqual(yield* Ref.get(lines), ["scheduler already running; start ignored"])
      yield* advance("3 minutes")
      assert.strictEqual(yield* Ref.get(count), 3)
      assert.strictEqual((yield* history("job")).length, 3)
    }).pipe(Effect.provide(RunStore.layerMemory)))

  it.scoped("stop stops the ticks; stopping a stopped scheduler does nothing", () =>
    Effect.gen(function*() {
      yield* startClock
      const { count, run } = yield* counter
      const scheduler = yield* engine([every("job", "1 minute", run)])
      yield* scheduler.stop // never started: nothing to do
      assert.strictEqual((yield* scheduler.status).state, "not-started")
      yield* scheduler.start
      yield* advance("2 minutes")
      yield* scheduler.stop
      assert.strictEqual((yield* scheduler.status).state, "stopped")
      yield* advance("10 minutes")
      assert.strictEqual(yield* Ref.get(count), 2)
      yield* scheduler.stop
      assert.strictEqual((yield* scheduler.status).state, "stopped")
      // No loop, reaper or run is left waiting on the clock.
      assert.strictEqual((yield* TestClock.sleeps()).length, 0)
    }).pipe(Effect.provide(RunStore.layerMemory)))

  it.scoped("status while running shows the running job, then its last run", () =>
    Effect.gen(function*() {
      yield* startClock
      const release = yield* Deferred.make<void>()
      const scheduler = yield* engine([every("slow", "1 minute", Deferred.await(release), { timeout: "1 hour" })])
      yield* scheduler.start
      yield* advance("1 minute")
      const during = (yield* scheduler.status).jobs[0]
      assert.isTrue(during.running)
      assert.strictEqual(during.lastRun?.outcome, "running")
      yield* Deferred.succeed(release, undefined)
      yield* settle
      const after = (yield* scheduler.status).jobs[0]
      assert.isFalse(after.running)
      assert.strictEqual(after.lastRun?.outcome, "succeeded")
    }).pipe(Effect.provide(RunStore.layerMemory)))

  it.scoped("run now runs at once outside the schedule, even when stopped, and returns the finished run", () =>
    Effect.gen(function*() {
      yield* startClock
      const { count, run } = yield* counter
      const scheduler = yield* engine([every("job", "15 minutes", run)])
      const manual = yield* scheduler.runNow("job")
      assert.strictEqual(manual.outcome, "succeeded")
      assert.strictEqual(manual.trigger, "manual")
      assert.deepStrictEqual(manual.result, { run: 1 })
      assert.strictEqual(DateTime.toEpochMillis(manual.scheduledAt), t0)
      assert.strictEqual(yield* Ref.get(count), 1)
      const missing = yield* Effect.flip(scheduler.runNow("nope"))
      assert.strictEqual(missing._tag, "NotFound")
      // A manual run is not a tick: the schedule (and missed-run catch-up) ignores it.
      yield* scheduler.start
      yield* advance("15 minutes")
      assert.deepStrictEqual(summary(yield* history("job")), [
        "09:00:00 manual succeeded",
        "09:15:00 schedule succeeded"
      ])
    }).pipe(Effect.provide(RunStore.layerMemory)))

  it.scoped("a tick that comes while the job still runs is skipped and recorded", () =>
    Effect.gen(function*() {
      yield* startClock
      const scheduler = yield* engine([every("slow", "1 minute", Effect.sleep("90 seconds"))], {
        stopBudget: "1 minute"
      })
      yield* scheduler.start
      yield* advance("1 minute") // 09:01 starts, ends 09:02:30
      yield* advance("1 minute") // 09:02: skipped
      yield* advance("1 minute") // 09:03 starts, ends 09:04:30
      yield* advance("1 minute") // 09:04: skipped
      const runs = yield* history("slow")
      assert.deepStrictEqual(summary(runs), [
        "09:01:00 schedule succeeded",
        "09:02:00 schedule skipped",
        "09:03:00 schedule running",
        "09:04:00 schedule skipped"
      ])
      assert.match(runs[1].error ?? "", /overlap/)
      // Let the 09:03 run finish inside the stop budget (the clock only moves when told).
      const stopping = yield* Effect.fork(scheduler.stop)
      yield* advance("30 seconds")
      yield* Fiber.join(stopping)
      assert.strictEqual((yield* history("slow"))[2].outcome, "succeeded")
    }).pipe(Effect.provide(RunStore.layerMemory)))

  it.scoped("missed runs, policy skip: ticks missed while down are recorded skipped, none runs", () =>
    Effect.gen(function*() {
      yield* startClock
      const { count, run } = yield* counter
      const first = yield* engine([every("job", "15 minutes", run)])
      yield* first.start
      yield* advance("15 minutes")
      yield* first.stop
      yield* advance("50 minutes") // down over 09:30, 09:45, 10:00; back at 10:05
      const second = yield* engine([every("job", "15 minutes", run)])
      yield* second.start
      yield* advance("10 minutes")
      assert.deepStrictEqual(summary(yield* history("job")), [
        "09:15:00 schedule succeeded",
        "09:30:00 schedule skipped",
        "09:45:00 schedule skipped",
        "10:00:00 schedule skipped",
        "10:15:00 schedule succeeded"
      ])
      assert.strictEqual(yield* Ref.get(count), 2)
    }).pipe(Effect.provide(RunStore.layerMemory)))

  it.scoped("missed runs, policy runOnce: the latest missed tick runs once as a catch-up", () =>
    Effect.gen(function*() {
      yield* startClock
      const { count, run } = yield* counter
      const first = yield* engine([every("job", "15 minutes", run, { missed: "runOnce" })])
      yield* first.start
      yield* advance("15 minutes")
      yield* first.stop
      yield* advance("50 minutes")
      const second = yield* engine([every("job", "15 minutes", run, { missed: "runOnce" })])
      yield* second.start
      yield* settle
      assert.deepStrictEqual(summary(yield* history("job")), [
        "09:15:00 schedule succeeded",
        "09:30:00 schedule skipped",
        "09:45:00 schedule skipped",
        "10:00:00 catch-up succeeded"
      ])
      assert.strictEqual(yield* Ref.get(count), 2)
    }).pipe(Effect.provide(RunStore.layerMemory)))

  it.scoped("metrics: runs by outcome (missed ticks count as skipped), lateness of each start, last success", () =>
    Effect.gen(function*() {
      yield* startClock
      const calls = yield* Ref.make(0)
      const run = Effect.flatMap(
        Ref.updateAndGet(calls, (n) => n + 1),
        (n) => n === 1 ? Effect.fail("no") : Effect.void
      )
      const job = every("metrics-job", "15 minutes", run, { missed: "runOnce" })
      const first = yield* engine([job])
      yield* first.start
      yield* advance("15 minutes") // 09:15 fails
      yield* first.stop
      yield* advance("50 minutes") // down over 09:30, 09:45, 10:00; back at 10:05
      const second = yield* engine([job])
      yield* second.start
      yield* settle // 09:30 and 09:45 skipped, 10:00 caught up at 10:05

      const runs = (outcome: string) =>
        Effect.map(
          Metric.value(Metric.tagged(Metric.tagged(Metrics.runs, "job", "metrics-job"), "outcome", outcome)),
          (state) => state.count
        )
      assert.deepStrictEqual(
        [yield* runs("failed"), yield* runs("skipped"), yield* runs("succeeded")],
        [1, 2, 1]
      )
      const lateness = yield* Metric.value(Metric.tagged(Metrics.lateness, "job", "metrics-job"))
      assert.deepStrictEqual([lateness.count, lateness.sum], [2, 300], "on time at 09:15, five minutes late at 10:05")
      const lastSuccess = yield* Metric.value(Metric.tagged(Metrics.lastSuccess, "job", "metrics-job"))
      assert.strictEqual(lastSuccess.value, t0 / 1000 + 65 * 60)
    }).pipe(Effect.provide(RunStore.layerMemory)))

  it.scoped("metrics: a tick skipped because the job still runs counts as skipped; a manual run is never late", () =>
    Effect.gen(function*() {
      yield* startClock
      const name = "metrics-overlap"
      const scheduler = yield* engine([every(name, "1 minute", Effect.sleep("90 seconds"))], {
        stopBudget: "1 minute"
      })
      const manual = yield* Effect.fork(scheduler.runNow(name)) // 09:00, runs until 09:01:30
      yield* scheduler.start
      yield* advance("1 minute") // 09:01: skipped, the manual run still holds the job
      const during = summary(yield* history(name))
      const skipped = yield* Metric.value(
        Metric.tagged(Metric.tagged(Metrics.runs, "job", name), "outcome", "skipped")
      )
      const lateness = yield* Metric.value(Metric.tagged(Metrics.lateness, "job", name))
      // The manual run ends before the checks: a failed check must not leave it holding the stop.
      yield* advance("30 seconds")
      assert.strictEqual((yield* Fiber.join(manual)).outcome, "succeeded")
      assert.deepStrictEqual(during, ["09:00:00 manual running", "09:01:00 schedule skipped"])
      assert.strictEqual(skipped.count, 1)
      assert.strictEqual(lateness.count, 0)
    }).pipe(Effect.provide(RunStore.layerMemory)))

  it.scoped("pause skips ticks (recorded) until resume", () =>
    Effect.gen(function*() {
      yield* startClock
      const { count, run } = yield* counter
      const scheduler = yield* engine([every("job", "1 minute", run)])
      yield* scheduler.start
      yield* advance("1 minute")
      const paused = yield* scheduler.pause("job")
      assert.isTrue(paused.paused)
      yield* advance("2 minutes")
      const resumed = yield* scheduler.resume("job")
      assert.isFalse(resumed.paused)
      yield* advance("1 minute")
      assert.deepStrictEqual(summary(yield* history("job")), [
        "09:01:00 schedule succeeded",
        "09:02:00 schedule skipped",
        "09:03:00 schedule skipped",
        "09:04:00 schedule succeeded"
      ])
      assert.strictEqual(yield* Ref.get(count), 2)
      assert.strictEqual((yield* Effect.flip(scheduler.pause("nope")))._tag, "NotFound")
    }).pipe(Effect.provide(RunStore.layerMemory)))

  it.scoped("stop waits for a running job that ends within the budget", () =>
    Effect.gen(function*() {
      yield* startClock
      const scheduler = yield* engine([every("job", "1 minute", Effect.sleep("20 seconds"))])
      yield* scheduler.start
      yield* advance("1 minute")
      const stopping = yield* Effect.fork(scheduler.stop)
      yield* advance("20 seconds")
      yield* Fiber.join(stopping)
      assert.deepStrictEqual(summary(yield* history("job")), ["09:01:00 schedule succeeded"])
    }).pipe(Effect.provide(RunStore.layerMemory)))

  it.scoped("stop interrupts a job still running after the budget, runs its finalizers and records it", () =>
    Effect.gen(function*() {
      yield* startClock
      const finalized = yield* Ref.make(false)
      const job = Effect.never.pipe(Effect.ensuring(Ref.set(finalized, true)))
      const scheduler = yield* engine([every("job", "1 minute", job, { timeout: "1 hour" })], {
        stopBudget: "30 seconds"
      })
      yield* scheduler.start
      yield* advance("1 minute")
      const stopping = yield* Effect.fork(scheduler.stop)
      yield* advance("29 seconds")
      assert.isFalse(yield* Ref.get(finalized))
      yield* advance("1 second")
      yield* Fiber.join(stopping)
      assert.isTrue(yield* Ref.get(finalized))
      const runs = yield* history("job")
      assert.deepStrictEqual(summary(runs), ["09:01:00 schedule interrupted"])
    }).pipe(Effect.provide(RunStore.layerMemory)))

  it.scoped("a failing job is recorded failed with its error; a slow one times out; the loop goes on", () =>
    Effect.gen(function*() {
      yield* startClock
      const calls = yield* Ref.make(0)
      const flaky = Ref.updateAndGet(calls, (n) => n + 1).pipe(
        Effect.flatMap((n) => (n === 1 ? Effect.fail(new Error("disk full")) : n === 2 ? Effect.never : Effect.void))
      )
      const scheduler = yield* engine([every("job", "1 minute", flaky, { timeout: "10 seconds" })])
      yield* scheduler.start
      yield* advance("1 minute")
      yield* advance("1 minute")
      yield* advance("10 seconds")
      yield* advance("50 seconds")
      const runs = yield* history("job")
      assert.deepStrictEqual(summary(runs), [
        "09:01:00 schedule failed",
        "09:02:00 schedule failed",
        "09:03:00 schedule succeeded"
      ])
      assert.match(runs[0].error ?? "", /disk full/)
      assert.match(runs[1].error ?? "", /timed out/)
    }).pipe(Effect.provide(RunStore.layerMemory)))

  it.scoped("any failure value is recorded as a failed run with a readable error: null, a tagged cycle", () =>
    Effect.gen(function*() {
      yield* startClock
      const cyclic: { _tag: "Cyclic"; self?: unknown } = { _tag: "Cyclic" }
      cyclic.self = cyclic
      const calls = yield* Ref.make(0)
      const odd = Ref.updateAndGet(calls, (n) => n + 1).pipe(
        Effect.flatMap((
          n
        ) => (n === 1 ? Effect.fail(null) : n === 2 ? Effect.fail(cyclic) : Effect.fail({ _tag: "Plain" })))
      )
      const scheduler = yield* engine([every("job", "1 minute", odd)])
      yield* scheduler.start
      for (let i = 0; i < 3; i++) yield* advance("1 minute")
      const runs = yield* history("job")
      assert.deepStrictEqual(summary(runs), [
        "09:01:00 schedule failed",
        "09:02:00 schedule failed",
        "09:03:00 schedule failed"
      ])
      assert.deepStrictEqual(runs.map((run) => run.error), ["null", "Cyclic", `{"_tag":"Plain"}`])
    }).pipe(Effect.provide(RunStore.layerMemory)))

  it.scoped("a run longer than the lease keeps its claim (renewed), so another replica never takes it over", () =>
    Effect.gen(function*() {
      // Ten seconds before the 10:00 tick: an hour of reaper wake-ups first would only cost time.
      yield* TestClock.setTime(t0 + 3_590_000)
      const { count, run } = yield* counter
      const long = Effect.zipLeft(run, Effect.sleep("2 minutes"))
      const a = yield* engine([every("job", "1 hour", long)], { replica: "a" })
      const b = yield* engine([every("job", "1 hour", long)], { replica: "b" })
      yield* Effect.all([a.start, b.start])
      yield* advance("10 seconds")
      for (let i = 0; i < 12; i++) yield* advance("10 seconds")
      const runs = yield* history("job")
      assert.deepStrictEqual(summary(runs), ["10:00:00 schedule succeeded"])
      assert.strictEqual(runs[0].attempt, 1)
      assert.strictEqual(yield* Ref.get(count), 1)
    }).pipe(Effect.provide(RunStore.layerMemory)))

  it.effect.prop(
    "a tick is never claimed twice, whatever the number of replicas and ticks",
    [FastCheck.integer({ min: 1, max: 8 }), FastCheck.array(FastCheck.integer({ min: 0, max: 20 }), { maxLength: 40 })],
    ([replicas, ticks]) =>
      Effect.gen(function*() {
        const store = yield* RunStore
        const claims = yield* Effect.forEach(
          ticks.flatMap((tick) => Array.from({ length: replicas }, (_, r) => [tick, r] as const)),
          ([tick, r]) => {
            const at = DateTime.unsafeMake(t0 + tick * 60_000)
            return store.claim({
              job: "job",
              scheduledAt: at,
              trigger: "schedule",
              replica: `r${r}`,
              now: at,
              leaseUntil: DateTime.unsafeMake(t0 + tick * 60_000 + 10_000),
              ignorePause: false
            })
          },
          { concurrency: "unbounded" }
        )
        const rows = claims.filter(Option.isSome).map((c) => DateTime.toEpochMillis(c.value.scheduledAt))
        assert.strictEqual(rows.length, new Set(ticks).size)
        assert.strictEqual(new Set(rows).size, rows.length)
      }).pipe(Effect.provide(RunStore.layerMemory))
  )

  it.scoped("a lost run history: the engine keeps going, retries with backoff, then applies the missed-run policy", () =>
    Effect.gen(function*() {
      yield* startClock
      const down = yield* StoreDown
      const { count, run } = yield* counter
      const scheduler = yield* engine([every("job", "1 minute", run, { missed: "runOnce" })], {
        lateTolerance: "5 seconds",
        backoff: { initial: "20 seconds", max: "20 seconds" }
      })
      yield* scheduler.start
      yield* advance("1 minute")
      yield* Ref.set(down, true)
      for (let i = 0; i < 10; i++) yield* advance("30 seconds") // 09:01 to 09:06 without a database
      assert.strictEqual(yield* Ref.get(count), 1)
      assert.strictEqual((yield* scheduler.status).state, "running")
      yield* Ref.set(down, false)
      yield* advance("1 minute") // the retry at 09:06:20 gets through; then the 09:07 tick
      assert.deepStrictEqual(summary(yield* history("job")), [
        "09:01:00 schedule succeeded",
        "09:02:00 schedule skipped",
        "09:03:00 schedule skipped",
        "09:04:00 schedule skipped",
        "09:05:00 schedule skipped",
        "09:06:00 catch-up succeeded",
        "09:07:00 schedule succeeded"
      ])
      assert.strictEqual(yield* Ref.get(count), 3)
    }).pipe(Effect.provide(flakyStore)))

  it.scoped("a replica started while the run history is unreachable, with no history yet, owes the ticks since its start", () =>
    Effect.gen(function*() {
      yield* startClock
      const down = yield* StoreDown
      yield* Ref.set(down, true)
      const { count, run } = yield* counter
      const scheduler = yield* engine([every("job", "1 minute", run, { missed: "runOnce" })], {
        lateTolerance: "5 seconds",
        backoff: { initial: "20 seconds", max: "20 seconds" }
      })
      yield* scheduler.start
      for (let i = 0; i < 10; i++) yield* advance("30 seconds") // 09:00 to 09:05 without a database
      yield* Ref.set(down, false)
      yield* advance("1 minute") // the retry at 09:05:20 gets through; then the 09:06 tick
      // As with a history: the ticks since the start follow the missed-run policy, none vanishes.
      assert.deepStrictEqual(summary(yield* history("job")), [
        "09:01:00 schedule skipped",
        "09:02:00 schedule skipped",
        "09:03:00 schedule skipped",
        "09:04:00 schedule skipped",
        "09:05:00 catch-up succeeded",
        "09:06:00 schedule succeeded"
      ])
      assert.strictEqual(yield* Ref.get(count), 2)
    }).pipe(Effect.provide(flakyStore)))

  it.scoped("a replica that reaches the run history only after another began it also owes the ticks before", () =>
    Effect.gen(function*() {
      yield* startClock
      const shared = yield* RunStore
      const down = yield* Ref.make(true)
      const { count, run } = yield* counter
      const early = yield* engine([every("job", "1 minute", run)], {
        replica: "early",
        lateTolerance: "5 seconds",
        backoff: { initial: "20 seconds", max: "20 seconds" }
      }).pipe(Effect.provideService(RunStore, guarded(shared, down)))
      yield* early.start // 09:00, without a database
      for (let i = 0; i < 5; i++) yield* advance("30 seconds")
      const late = yield* engine([every("job", "1 minute", run)], { replica: "late" })
      yield* late.start // 09:02:30, with a database and no history: it begins the history at 09:03
      for (let i = 0; i < 4; i++) yield* advance("30 seconds")
      yield* Ref.set(down, false)
      yield* advance("1 minute") // the early replica's retry at 09:04:40 gets through; then 09:05
      assert.deepStrictEqual(summary(yield* history("job")), [
        "09:01:00 schedule skipped",
        "09:02:00 schedule skipped",
        "09:03:00 schedule succeeded",
        "09:04:00 schedule succeeded",
        "09:05:00 schedule succeeded"
      ])
      assert.strictEqual(yield* Ref.get(count), 3)
    }).pipe(Effect.provide(RunStore.layerMemory)))
})
