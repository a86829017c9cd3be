import { assert, describe, it } from "@effect/vitest"
import { Clock, DateTime, Deferred, Effect, Layer, Ref, TestClock } from "effect"
import * as Job from "../src/Job.js"
import * as JobSchedule from "../src/JobSchedule.js"
import { RunStore, type RunStoreShape, StoreUnavailable } from "../src/RunStore.js"
import { make } from "../src/SchedulerEngine.js"
import { advance, captureWarnings, engine, history, settle, startClock, summary, T0, t0 } from "./helpers.js"

const refused = Effect.fail(new StoreUnavailable({ message: "connection refused" }))

/** The memory store with some of its calls replaced (a database that refuses them, a stolen claim). */
const storeWith = (change: (base: RunStoreShape) => Partial<RunStoreShape>) =>
  Layer.effect(RunStore, Effect.map(RunStore, (base) => RunStore.of({ ...base, ...change(base) }))).pipe(
    Layer.provide(RunStore.layerMemory)
  )

const minutely = (run: Effect.Effect<unknown, unknown>) =>
  Job.make({ name: "job", schedule: JobSchedule.every("1 minute"), run, timeout: "1 hour" })

describe("claim leases (memory store, TestClock)", () => {
  it.scoped("a renewal the run history refuses is retried: the run keeps going, runs once and ends succeeded", () =>
    Effect.gen(function*() {
      yield* startClock
      const { layer, lines } = yield* captureWarnings
      yield* Effect.gen(function*() {
        const runs = yield* Ref.make(0)
        const scheduler = yield* engine([
          minutely(Effect.zipRight(Ref.update(runs, (n) => n + 1), Effect.sleep("20 seconds")))
        ], {
          lease: "3 seconds"
        })
        yield* scheduler.start
        yield* advance("1 minute")
        yield* advance("5 seconds")
        // The lease lapsed (no renewal got through), but the run is this replica's own: not taken over.
        assert.strictEqual(yield* scheduler.takeOverExpired, 0)
        yield* advance("15 seconds")
        assert.deepStrictEqual(summary(yield* history("job")), ["09:01:00 schedule succeeded"])
        assert.strictEqual(yield* Ref.get(runs), 1)
        yield* scheduler.stop
      }).pipe(Effect.provide(layer))
      assert.include(yield* Ref.get(lines), "lease not renewed; retrying connection refused")
    }).pipe(Effect.provide(storeWith(() => ({ renew: () => refused })))))

  it.scoped("a run whose claim another replica took over is stopped, its finalizers run, and recorded failed", () =>
    Effect.gen(function*() {
      yield* startClock
      const finalized = yield* Ref.make(false)
      const scheduler = yield* engine([minutely(Effect.never.pipe(Effect.ensuring(Ref.set(finalized, true))))], {
        lease: "3 seconds"
      })
      yield* scheduler.start
      yield* advance("1 minute")
      assert.isTrue((yield* scheduler.status).jobs[0].running)
      yield* advance("1 second") // the first renewal: the claim is no longer ours
      assert.isTrue(yield* Ref.get(finalized))
      const [run] = yield* history("job")
      assert.strictEqual(run.outcome, "failed")
      assert.strictEqual(run.error, "ClaimLost: the claim was taken over by another replica")
      assert.isFalse((yield* scheduler.status).jobs[0].running)
    }).pipe(Effect.provide(storeWith(() => ({ renew: () => Effect.succeed(false) })))))

  it.scoped("a claim's lease is 6 s by default and never longer than 10 s", () =>
    Effect.gen(function*() {
      yield* startClock
      const release = yield* Deferred.make<void>()
      const leaseOf = Effect.map(history("job"), (runs) => {
        const run = runs[runs.length - 1]
        return run.leaseUntil!.epochMillis - run.startedAt!.epochMillis
      })
      const byDefault = yield* make({ jobs: [minutely(Deferred.await(release))], replica: "replica-a" })
      yield* byDefault.start
      yield* advance("1 minute")
      assert.strictEqual(yield* leaseOf, 6_000)
      yield* Deferred.succeed(release, undefined)
      yield* settle
      yield* byDefault.stop
      const hold = yield* Deferred.make<void>()
      const long = yield* engine([minutely(Deferred.await(hold))], { lease: "1 minute", replica: "replica-b" })
      yield* long.start
      yield* advance("1 minute")
      assert.strictEqual(yield* leaseOf, 10_000)
      yield* Deferred.succeed(hold, undefined)
      yield* settle
    }).pipe(Effect.provide(RunStore.layerMemory)))

  it.scoped("a lapsed claim that another replica takes over first is left to it: not run here, not counted", () =>
    Effect.gen(function*() {
      yield* startClock
      const store = yield* RunStore
      // A dead replica's claim of the 09:00 tick, whose lease lapsed at 09:00:06.
      yield* store.claim({
        job: "job",
        scheduledAt: T0,
        trigger: "schedule",
        replica: "dead",
        now: T0,
        leaseUntil: DateTime.add(T0, { seconds: 6 }),
        ignorePause: false
      })
      yield* TestClock.adjust("10 seconds")
      const runs = yield* Ref.make(0)
      const scheduler = yield* engine([minutely(Ref.update(runs, (n) => n + 1))]).pipe(
        Effect.provideService(
          RunStore,
          RunStore.of({
            ...store,
            // Another replica's reaper takes the claim between this one listing it and taking it over.
            expiredClaims: (jobs, now) =>
              Effect.tap(
                store.expiredClaims(jobs, now),
                (expired) =>
                  Effect.forEach(expired, (run) =>
                    store.takeOver(run.id, "replica-c", now, DateTime.add(now, { seconds: 10 })))
              )
          })
        )
      )
      assert.strictEqual(yield* scheduler.takeOverExpired, 0)
      yield* settle
      const [run] = yield* history("job")
      assert.deepStrictEqual([run.replica, run.attempt, run.outcome], ["replica-c", 2, "running"])
      assert.strictEqual(yield* Ref.get(runs), 0)
    }).pipe(Effect.provide(RunStore.layerMemory)))

  it.scoped("the reaper beats and looks for lapsed claims every half lease", () =>
    Effect.gen(function*() {
      yield* startClock
      const store = yield* RunStore
      const scheduler = yield* engine([
        Job.make({ name: "job", schedule: JobSchedule.every("1 hour"), run: Effect.void })
      ])
      yield* scheduler.start
      yield* settle
      const sleeps = yield* TestClock.sleeps()
      // The job sleeps until 10:00; the reaper (lease 10 s) half a lease.
      assert.deepStrictEqual([...sleeps].sort((a, b) => a - b), [t0 + 5_000, t0 + 3_600_000])
      yield* advance("5 seconds")
      const [replica] = yield* store.replicas(T0)
      assert.strictEqual(replica.lastSeenAt.epochMillis, t0 + 5_000)
      assert.strictEqual(replica.startedAt.epochMillis, t0)
    }).pipe(Effect.provide(RunStore.layerMemory)))

  it.scoped("a run end the run history cannot take is logged after retries; the claim is left to lapse", () =>
    Effect.gen(function*() {
      yield* startClock
      const { layer, lines } = yield* captureWarnings
      yield* Effect.gen(function*() {
        const scheduler = yield* engine([minutely(Effect.void)])
        yield* scheduler.start
        yield* advance("1 minute")
        for (let i = 0; i < 4; i++) yield* advance("1 second") // retries after 0.1, 0.2, 0.4, 0.8 s
        assert.deepStrictEqual(summary(yield* history("job")), ["09:01:00 schedule running"])
        yield* scheduler.stop
      }).pipe(Effect.provide(layer))
      assert.include(yield* Ref.get(lines), "run end not recorded connection refused")
    }).pipe(Effect.provide(storeWith(() => ({ finish: () => refused })))))

  it.scoped("a run whose end was not recorded stops being this replica's: once its lease lapses, it takes the claim over", () =>
    Effect.gen(function*() {
      yield* startClock
      const runs = yield* Ref.make(0)
      const scheduler = yield* engine([minutely(Ref.update(runs, (n) => n + 1))])
      yield* scheduler.start
      yield* advance("1 minute")
      for (let i = 0; i < 4; i++) yield* advance("1 second") // the finish retries give up
      assert.isFalse((yield* scheduler.status).jobs[0].running)
      // Past the 10 s lease and the reaper's next look (every 5 s): the lapsed claim is retaken here.
      yield* advance("15 seconds")
      const [run] = yield* history("job")
      assert.strictEqual(run.attempt, 2)
      assert.strictEqual(yield* Ref.get(runs), 2)
      yield* scheduler.stop
    }).pipe(Effect.provide(storeWith(() => ({ finish: () => refused })))))

  it.scoped("stop removes this replica's heartbeat, and still stops when the run history refuses that", () =>
    Effect.gen(function*() {
      yield* startClock
      const store = yield* RunStore
      const scheduler = yield* engine([minutely(Effect.void)])
      yield* scheduler.start
      yield* settle
      assert.deepStrictEqual((yield* store.replicas(T0)).map((r) => r.replica), ["replica-a"])
      yield* scheduler.stop
      assert.deepStrictEqual(yield* store.replicas(T0), [])

      const { layer, lines } = yield* captureWarnings
      const stuck = yield* engine([minutely(Effect.void)], { replica: "replica-b" }).pipe(
        Effect.provideService(RunStore, RunStore.of({ ...store, leave: () => refused }))
      )
      yield* stuck.start
      yield* settle
      yield* stuck.stop.pipe(Effect.provide(layer))
      assert.strictEqual((yield* stuck.status).state, "stopped")
      assert.deepStrictEqual(yield* Ref.get(lines), ["heartbeat not removed connection refused"])
      assert.deepStrictEqual((yield* store.replicas(T0)).map((r) => r.replica), ["replica-b"])
    }).pipe(Effect.provide(RunStore.layerMemory)))

  it.scoped("retries while the run history is unreachable wait 200 ms, doubling up to 15 s, unless configured", () =>
    Effect.gen(function*() {
      yield* startClock
      const attempts = yield* Ref.make<ReadonlyArray<number>>([])
      const down = yield* Ref.make(true)
      const flaky = storeWith((base) => ({
        claim: (r) =>
          Effect.zipRight(
            Effect.flatMap(Clock.currentTimeMillis, (now) => Ref.update(attempts, (all) => [...all, now - t0])),
            Effect.flatMap(Ref.get(down), (isDown) => (isDown ? refused : base.claim(r)))
          )
      }))
      yield* Effect.gen(function*() {
        // Tolerant of lateness: the tick keeps being claimed, not recorded missed.
        const scheduler = yield* engine([minutely(Effect.void)], { lateTolerance: "1 hour" })
        yield* scheduler.start
        yield* advance("1 minute")
        for (let i = 0; i < 45; i++) yield* advance("1 second")
        // 09:01:00, then 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8 s later, then every 15 s.
        assert.deepStrictEqual(
          (yield* Ref.get(attempts)).map((ms) => ms - 60_000),
          [0, 200, 600, 1_400, 3_000, 6_200, 12_600, 25_400, 40_400]
        )
        yield* scheduler.stop
      }).pipe(Effect.provide(flaky))
    }))

  it.scoped("a configured backoff is the one used", () =>
    Effect.gen(function*() {
      yield* startClock
      const down = yield* Ref.make(true)
      const store = yield* RunStore
      const scheduler = yield* engine([minutely(Effect.void)], {
        backoff: { initial: "1 minute", max: "1 minute" },
        lateTolerance: "5 minutes"
      }).pipe(
        Effect.provideService(
          RunStore,
          RunStore.of({
            ...store,
            claim: (r) => Effect.flatMap(Ref.get(down), (isDown) => (isDown ? refused : store.claim(r)))
          })
        )
      )
      yield* scheduler.start
      yield* advance("1 minute")
      yield* Ref.set(down, false)
      yield* advance("59 seconds")
      assert.deepStrictEqual(yield* history("job"), [])
      yield* advance("1 second")
      // The retry at 09:02 runs the 09:01 tick (late, within the tolerance).
      assert.strictEqual(summary(yield* history("job"))[0], "09:01:00 schedule succeeded")
    }).pipe(Effect.provide(RunStore.layerMemory)))
})
