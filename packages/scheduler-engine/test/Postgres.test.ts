import * as TestDatabase from "@clinic/repository/testing/TestDatabase"
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Duration, Effect, Layer, Option, Ref, TestClock } from "effect"
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

describe("two engines on one Postgres database (real time)", () => {
  it.live("each one-second tick runs exactly once across both replicas", () =>
    Effect.gen(function*() {
      const executions = yield* Ref.make(0)
      const job = () =>
        Job.make({
          name: "tick",
          schedule: JobSchedule.unsafeCron("* * * * * *"),
          run: Ref.update(executions, (n) => n + 1).pipe(Effect.zipRight(Effect.sleep("50 millis")))
        })
      const sql = yield* SqlClient.SqlClient
      const a = yield* make({ jobs: [job()], replica: "replica-a" })
      const b = yield* make({ jobs: [job()], replica: "replica-b" })
      yield* Effect.all([a.start, b.start], { concurrency: 2 })
      yield* Effect.sleep("4500 millis")
      yield* Effect.all([a.stop, b.stop], { concurrency: 2 })

      const rows = yield* sql<{ scheduledAt: Date; outcome: string; replica: string }>`
        SELECT scheduled_at, outcome, replica FROM scheduler_runs WHERE job = 'tick' ORDER BY scheduled_at`
      const succeeded = rows.filter((r) => r.outcome === "succeeded")
      assert.isAtLeast(succeeded.length, 3)
      assert.strictEqual(yield* Ref.get(executions), succeeded.length)
      assert.strictEqual(new Set(rows.map((r) => r.scheduledAt.getTime())).size, rows.length)
      // Consecutive seconds, none skipped: no tick was lost between the replicas either.
      const seconds = succeeded.map((r) => r.scheduledAt.getTime() / 1000)
      seconds.forEach((s, i) => i > 0 && assert.strictEqual(s - seconds[i - 1], 1))
    }).pipe(Effect.scoped, Effect.provide(pg)), 20_000)
})
