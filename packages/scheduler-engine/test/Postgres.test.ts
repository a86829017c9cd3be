import * as TestDatabase from "@clinic/repository/testing/TestDatabase"
import { eventually, sleepingUntil } from "@clinic/testing/TestTime"
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, DateTime, Duration, Effect, Layer, Option, Ref, TestClock } from "effect"
import * as Job from "../src/Job.js"
import * as JobSchedule from "../src/JobSchedule.js"
import { RunStore } from "../src/RunStore.js"
import { make } from "../src/SchedulerEngine.js"
import { startClock, T0, t0 } from "./helpers.js"

const pg = RunStore.layerPg.pipe(Layer.provideMerge(TestDatabase.layer))

const claimOf = (replica: string, scheduledAt: DateTime.Utc, now: DateTime.Utc) => ({
  job: "job",
  scheduledAt,
  trigger: "schedule" as const,
  replica,
  now,
  leaseUntil: DateTime.addDuration(now, Duration.seconds(10)),
  ignorePause: false
})

/** The claim rules shared by both stores. */
const claimContract = (name: string, layer: Layer.Layer<RunStore>) =>
  describe(`RunStore claims (${name})`, () => {
    it.effect("a tick is claimed once among many concurrent claimers; later ticks wait for the live lease", () =>
      Effect.gen(function*() {
        yield* startClock
        const store = yield* RunStore
        const results = yield* Effect.forEach(
          Array.from({ length: 12 }, (_, i) => `replica-${i}`),
          (replica) => store.claim(claimOf(replica, T0, T0)),
          { concurrency: "unbounded" }
        )
        const won = results.filter(Option.isSome)
        assert.strictEqual(won.length, 1)
        assert.strictEqual(won[0].value.outcome, "running")
        // The next tick while the first holds a live lease: recorded skipped (overlap).
        const next = DateTime.addDuration(T0, Duration.seconds(5))
        const overlap = yield* store.claim(claimOf("replica-0", next, next))
        assert.strictEqual(Option.getOrThrow(overlap).outcome, "skipped")
        assert.isTrue(Option.isNone(yield* store.claim(claimOf("replica-1", next, next))))
      }).pipe(Effect.provide(layer)))

    it.effect("a killed claim is taken over after its lease, once, and keeps its tick", () =>
      Effect.gen(function*() {
        yield* startClock
        const store = yield* RunStore
        const ran = yield* Ref.make(0)
        const claimed = Option.getOrThrow(yield* store.claim(claimOf("dead-replica", T0, T0)))
        const engine = yield* make({
          jobs: [Job.make({ name: "job", schedule: JobSchedule.every("1 hour"), run: Ref.update(ran, (n) => n + 1) })],
          replica: "survivor",
          lease: "10 seconds"
        })
        yield* TestClock.adjust("9 seconds")
        assert.strictEqual(yield* engine.takeOverExpired, 0)
        yield* TestClock.adjust("2 seconds")
        assert.strictEqual(yield* engine.takeOverExpired, 1)
        assert.strictEqual(yield* engine.takeOverExpired, 0)
        // Wait (bounded) for the taken-over run to record its end.
        const run = yield* store.recent("job", 1).pipe(
          Effect.map((runs) => runs[0]),
          Effect.zipLeft(Effect.yieldNow()),
          Effect.repeat({ until: (r) => r.outcome !== "running", times: 2000 })
        )
        assert.strictEqual(run.id, claimed.id)
        assert.strictEqual(run.outcome, "succeeded")
        assert.strictEqual(run.replica, "survivor")
        assert.strictEqual(run.attempt, 2)
        assert.strictEqual(DateTime.toEpochMillis(run.scheduledAt), t0)
        assert.strictEqual(yield* Ref.get(ran), 1)
        // The dead replica, were it to come back, can no longer record an end.
        assert.isFalse(
          yield* store.finish(claimed.id, "dead-replica", { outcome: "succeeded", at: T0, result: null, error: null })
        )
      }).pipe(Effect.scoped, Effect.provide(layer)))

    it.effect("a holder killed right after renewing is taken over as its lease ends: one lease (6 s) after the kill", () =>
      Effect.gen(function*() {
        yield* startClock
        const store = yield* RunStore
        const at = (ms: number) => DateTime.unsafeMake(t0 + ms)
        const lease = 6_000
        // The dead replica claimed at T0 and renewed every third of the lease, last at +2 s; then it
        // was killed: the worst case, a full lease left.
        const claimed = Option.getOrThrow(
          yield* store.claim({ ...claimOf("dead-replica", T0, T0), leaseUntil: at(lease) })
        )
        const survivor = yield* make({
          jobs: [Job.make({ name: "job", schedule: JobSchedule.every("1 hour"), run: Effect.void })],
          replica: "survivor"
        })
        yield* survivor.start
        const holder = store.recent("job", 1).pipe(Effect.map((runs) => runs[0].replica))
        // Its reaper wakes at the earliest other lease's end, or half a lease on.
        yield* sleepingUntil(at(lease / 2))
        yield* TestClock.adjust("2 seconds")
        const killedAt = 2_000
        assert.isTrue(yield* store.renew(claimed.id, "dead-replica", at(killedAt + lease)))
        yield* TestClock.adjust("1 second")
        yield* sleepingUntil(at(6_000))
        yield* TestClock.adjust("3 seconds")
        // At the lease's last instant the claim is still the dead replica's; one ms later, not.
        yield* sleepingUntil(at(killedAt + lease + 1))
        assert.strictEqual(yield* holder, "dead-replica")
        yield* TestClock.adjust("2001 millis")
        yield* eventually(Effect.map(holder, (replica) => replica === "survivor"))
        const run = (yield* store.recent("job", 1))[0]
        assert.strictEqual(run.id, claimed.id)
        assert.strictEqual(DateTime.toEpochMillis(run.startedAt!) - t0 - killedAt, lease + 1)
      }).pipe(Effect.scoped, Effect.provide(layer)))

    it.effect("pruning removes finished runs older than the retention, never a running claim", () =>
      Effect.gen(function*() {
        yield* startClock
        const store = yield* RunStore
        const old = Option.getOrThrow(yield* store.claim(claimOf("a", T0, T0)))
        yield* store.finish(old.id, "a", { outcome: "succeeded", at: T0, result: { n: 1 }, error: null })
        const later = DateTime.addDuration(T0, Duration.hours(1))
        yield* store.claim(claimOf("a", later, later))
        assert.strictEqual(yield* store.prune(DateTime.addDuration(T0, Duration.days(2))), 1)
        const left = yield* store.recent("job", 10)
        assert.deepStrictEqual(left.map((r) => r.outcome), ["running"])
      }).pipe(Effect.provide(layer)))
  })

claimContract("memory", RunStore.layerMemory)
claimContract("postgres", pg)

/** What the operator views read: filtered history, pause reasons, heartbeats. Shared by both stores. */
const operatorContract = (name: string, layer: Layer.Layer<RunStore>) =>
  describe(`RunStore for operators (${name})`, () => {
    it.effect("history filters by job, outcome and time, newest first; pause keeps its reason until resumed", () =>
      Effect.gen(function*() {
        yield* startClock
        const store = yield* RunStore
        const later = DateTime.addDuration(T0, Duration.minutes(1))
        const a = Option.getOrThrow(yield* store.claim(claimOf("r", T0, T0)))
        yield* store.finish(a.id, "r", { outcome: "failed", at: T0, result: null, error: "boom" })
        yield* store.claim({ ...claimOf("r", later, later), job: "other" })
        const all = yield* store.history({ limit: 10 })
        assert.deepStrictEqual(all.map((r) => r.job), ["other", "job"])
        assert.deepStrictEqual((yield* store.history({ outcome: "failed", limit: 10 })).map((r) => r.error), ["boom"])
        assert.deepStrictEqual((yield* store.history({ job: "other", limit: 10 })).map((r) => r.outcome), ["running"])
        assert.deepStrictEqual((yield* store.history({ from: later, limit: 10 })).map((r) => r.job), ["other"])
        assert.deepStrictEqual((yield* store.history({ to: later, limit: 10 })).map((r) => r.job), ["job"])
        assert.strictEqual((yield* store.history({ limit: 1 })).length, 1)

        yield* store.setPaused("job", true, T0, "maintenance window")
        assert.strictEqual((yield* store.pausedJobs).get("job"), "maintenance window")
        yield* store.setPaused("job", false, T0)
        assert.isFalse((yield* store.pausedJobs).has("job"))
      }).pipe(Effect.provide(layer)))

    it.effect("heartbeats: a beat inserts then refreshes a replica, old ones drop out of the window, leave removes", () =>
      Effect.gen(function*() {
        yield* startClock
        const store = yield* RunStore
        const later = DateTime.addDuration(T0, Duration.minutes(30))
        yield* store.beat({ replica: "a", startedAt: T0, now: T0, queues: ["email"] })
        yield* store.beat({ replica: "b", startedAt: T0, now: T0, queues: [] })
        yield* store.beat({ replica: "a", startedAt: T0, now: later, queues: ["email", "calendar"] })
        const recent = yield* store.replicas(DateTime.addDuration(T0, Duration.minutes(1)))
        assert.deepStrictEqual(recent.map((r) => [r.replica, r.queues]), [["a", ["email", "calendar"]]])
        assert.isTrue(DateTime.Equivalence(recent[0].lastSeenAt, later))
        assert.strictEqual((yield* store.replicas(T0)).length, 2)
        yield* store.leave("a")
        assert.deepStrictEqual((yield* store.replicas(T0)).map((r) => r.replica), ["b"])
      }).pipe(Effect.provide(layer)))
  })

operatorContract("memory", RunStore.layerMemory)
operatorContract("postgres", pg)

describe("two engines on one Postgres database (TestClock)", () => {
  it.scoped("each one-second tick runs exactly once across both replicas, and never again after its lease", () =>
    Effect.gen(function*() {
      // Half a second past T0: the reapers (every 5 s from here) never wake on a whole second, so
      // the sleeps counted below at a whole second are the two job loops'.
      yield* TestClock.setTime(t0 + 500)
      const executions = yield* Ref.make<ReadonlyArray<number>>([])
      const job = () =>
        Job.make({
          name: "tick",
          schedule: JobSchedule.unsafeCron("* * * * * *"),
          run: ({ scheduledAt }) => Ref.update(executions, (all) => [...all, DateTime.toEpochMillis(scheduledAt)])
        })
      const sql = yield* SqlClient.SqlClient
      const a = yield* make({ jobs: [job()], replica: "replica-a" })
      const b = yield* make({ jobs: [job()], replica: "replica-b" })
      const rows = sql<{ scheduledAt: Date; outcome: string; replica: string; attempt: number }>`
        SELECT scheduled_at, outcome, replica, attempt FROM scheduler_runs WHERE job = 'tick' ORDER BY scheduled_at`
      /** Both job loops asleep until `instant`: the queries of the tick before it are over. */
      const bothWaitFor = (instant: number) =>
        eventually(Effect.map(TestClock.sleeps(), (wakes) => Chunk.filter(wakes, (t) => t === instant).length >= 2))
      const finished = (tick: number) =>
        eventually(Effect.map(
          Effect.orDie(rows),
          (all) => all.some((r) => r.scheduledAt.getTime() === tick && r.outcome !== "running")
        ))

      yield* Effect.all([a.start, b.start], { concurrency: 2 })
      const ticks = Array.from({ length: 6 }, (_, i) => t0 + (i + 1) * 1000)
      for (const tick of ticks) {
        yield* bothWaitFor(tick)
        yield* TestClock.adjust("1 second")
        yield* finished(tick)
      }
      yield* bothWaitFor(t0 + 7000)
      yield* Effect.all([a.stop, b.stop], { concurrency: 2 })
      // Past every lease: nothing was left claimed, so nothing is taken over and run again.
      yield* TestClock.adjust("11 seconds")
      assert.strictEqual(yield* a.takeOverExpired, 0)
      assert.strictEqual(yield* b.takeOverExpired, 0)

      // One row per tick, each run once (attempt 1), every second from the first: none lost, none twice.
      const all = yield* rows
      assert.deepStrictEqual(all.map((r) => r.scheduledAt.getTime()), ticks)
      assert.deepStrictEqual(all.map((r) => [r.outcome, r.attempt]), ticks.map(() => ["succeeded", 1]))
      assert.deepStrictEqual(yield* Ref.get(executions), ticks)
    }).pipe(Effect.provide(pg)))
})
