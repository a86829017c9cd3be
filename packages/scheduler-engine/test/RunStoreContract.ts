import type { JobRun } from "@clinic/domain"
import { eventually, sleepingUntil } from "@clinic/testing/TestTime"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Duration, Effect, type Layer, Option, Ref, TestClock } from "effect"
import * as Job from "../src/Job.js"
import * as JobSchedule from "../src/JobSchedule.js"
import { RunStore } from "../src/RunStore.js"
import { make } from "../src/SchedulerEngine.js"
import { startClock, T0, t0 } from "./helpers.js"

/**
 * The RunStore contract: what the engine and the operator views rely on, the same for the memory
 * store (`RunStore.test.ts`) and Postgres (`Postgres.test.ts`).
 */

const at = (ms: number) => DateTime.unsafeMake(t0 + ms)

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

/** A claim's life after it is made: renewal, end, expiry, takeover; and the catch-up cursor. */
const lifecycleContract = (name: string, layer: Layer.Layer<RunStore>) =>
  describe(`RunStore claim lifecycle (${name})`, () => {
    it.effect("a live claim holds up only its own job, and only until its lease ends", () =>
      Effect.gen(function*() {
        const store = yield* RunStore
        assert.strictEqual(Option.getOrThrow(yield* store.claim(claimOf("r", T0, T0))).outcome, "running")
        // Another job at the same instant is free.
        const other = yield* store.claim({ ...claimOf("r", T0, T0), job: "other" })
        assert.strictEqual(Option.getOrThrow(other).outcome, "running")
        // The lease (10 s) ends at its last instant: a tick then is no longer held up, though the
        // first run never recorded its end.
        const atEnd = at(10_000)
        assert.strictEqual(Option.getOrThrow(yield* store.claim(claimOf("r", atEnd, atEnd))).outcome, "running")
      }).pipe(Effect.provide(layer)))

    it.effect("a missed tick is recorded once per job and tick, and only when the tick has no row", () =>
      Effect.gen(function*() {
        const store = yield* RunStore
        const skip = (job: string, scheduledAt: DateTime.Utc) =>
          store.recordSkip({ job, scheduledAt, replica: "r", now: at(60_000), reason: "missed: down" })
        assert.isTrue(yield* skip("job", T0))
        assert.isFalse(yield* skip("job", T0))
        assert.isTrue(yield* skip("other", T0))
        // A claimed tick is not recorded missed, and a missed tick is not claimed after.
        yield* store.claim(claimOf("r", at(1_000), at(1_000)))
        assert.isFalse(yield* skip("job", at(1_000)))
        assert.isTrue(Option.isNone(yield* store.claim(claimOf("r", T0, T0))))
        const [claimed, missed] = yield* store.recent("job", 10)
        assert.strictEqual(claimed.outcome, "running")
        assert.deepStrictEqual(
          [missed.outcome, missed.trigger, missed.error, missed.replica, missed.startedAt, missed.leaseUntil],
          ["skipped", "schedule", "missed: down", "r", null, null]
        )
        assert.isTrue(DateTime.Equivalence(missed.finishedAt!, at(60_000)))
      }).pipe(Effect.provide(layer)))

    it.effect("only the holder renews a running claim, and a renewed claim does not expire", () =>
      Effect.gen(function*() {
        const store = yield* RunStore
        const a = Option.getOrThrow(yield* store.claim(claimOf("r1", T0, T0)))
        const b = Option.getOrThrow(yield* store.claim({ ...claimOf("r1", T0, T0), job: "other" }))
        yield* store.finish(b.id, "r1", { outcome: "succeeded", at: T0, result: null, error: null })
        assert.isFalse(yield* store.renew(a.id, "r2", at(60_000)), "another replica's claim")
        assert.isFalse(yield* store.renew(a.id + b.id + 100, "r1", at(60_000)), "no such claim")
        assert.isFalse(yield* store.renew(b.id, "r1", at(60_000)), "a finished run")
        assert.isTrue(yield* store.renew(a.id, "r1", at(60_000)))
        assert.deepStrictEqual(yield* store.expiredClaims(["job"], at(30_000)), [])
        assert.isTrue(DateTime.Equivalence((yield* store.recent("job", 1))[0].leaseUntil!, at(60_000)))
        // The finished run keeps no lease.
        assert.isNull((yield* store.recent("other", 1))[0].leaseUntil)
      }).pipe(Effect.provide(layer)))

    it.effect("only the holder records a claim's end, once, with its result", () =>
      Effect.gen(function*() {
        const store = yield* RunStore
        const a = Option.getOrThrow(yield* store.claim(claimOf("r1", T0, T0)))
        yield* store.claim({ ...claimOf("r1", T0, T0), job: "other" })
        const end = { outcome: "succeeded" as const, at: at(3_000), result: { removed: 2 }, error: null }
        assert.isFalse(yield* store.finish(a.id, "r2", end), "another replica's claim")
        assert.isFalse(yield* store.finish(a.id + 100, "r1", end), "no such claim")
        assert.isTrue(yield* store.finish(a.id, "r1", end))
        assert.isFalse(yield* store.finish(a.id, "r1", { ...end, outcome: "failed", error: "late" }), "already ended")
        const run = (yield* store.recent("job", 1))[0]
        assert.deepStrictEqual([run.outcome, run.result, run.error, run.leaseUntil], [
          "succeeded",
          { removed: 2 },
          null,
          null
        ])
        assert.isTrue(DateTime.Equivalence(run.finishedAt!, at(3_000)))
        assert.strictEqual((yield* store.recent("other", 1))[0].outcome, "running")
      }).pipe(Effect.provide(layer)))

    it.effect("expired claims: running claims of the given jobs whose lease has passed", () =>
      Effect.gen(function*() {
        const store = yield* RunStore
        const claim = (job: string, leaseMs: number) =>
          Effect.map(
            store.claim({ ...claimOf("r1", T0, T0), job, leaseUntil: at(leaseMs) }),
            Option.getOrThrow
          )
        const lapsed = yield* claim("a", 5_000)
        yield* claim("b", 5_000) // lapsed, but not a job asked about
        yield* claim("c", 60_000) // live
        yield* claim("d", 10_000) // ends at the instant asked about: not passed yet
        const finished = yield* claim("e", 5_000)
        yield* store.finish(finished.id, "r1", { outcome: "failed", at: at(1_000), result: null, error: "x" })
        const expired = yield* store.expiredClaims(["a", "c", "d", "e"], at(10_000))
        assert.deepStrictEqual(expired.map((r) => [r.id, r.job, r.replica]), [[lapsed.id, "a", "r1"]])
        assert.deepStrictEqual(yield* store.expiredClaims([], at(10_000)), [])
      }).pipe(Effect.provide(layer)))

    it.effect("the next lease to watch: the earliest live lease another replica holds on the given jobs", () =>
      Effect.gen(function*() {
        const store = yield* RunStore
        const claim = (job: string, replica: string, leaseMs: number) =>
          Effect.map(store.claim({ ...claimOf(replica, T0, T0), job, leaseUntil: at(leaseMs) }), Option.getOrThrow)
        const now = at(10_000)
        const next = (jobs: ReadonlyArray<string>, replica: string, when = now) =>
          Effect.map(store.nextLeaseExpiry(jobs, replica, when), Option.map(DateTime.toEpochMillis))
        assert.isTrue(Option.isNone(yield* next(["a"], "me")))
        yield* claim("a", "other", 40_000)
        yield* claim("b", "other", 20_000) // the answer
        yield* claim("c", "other", 60_000)
        yield* claim("d", "me", 12_000) // our own
        yield* claim("e", "other", 11_000) // not a job asked about
        yield* claim("f", "other", 5_000) // already passed: the reaper's takeover, not a wait
        const ended = yield* claim("g", "other", 15_000)
        yield* store.finish(ended.id, "other", { outcome: "succeeded", at: at(2_000), result: null, error: null })
        const jobs = ["a", "b", "c", "d", "f", "g"]
        assert.deepStrictEqual(yield* next(jobs, "me"), Option.some(t0 + 20_000))
        // A lease ending right now is still live.
        assert.deepStrictEqual(yield* next(jobs, "me", at(20_000)), Option.some(t0 + 20_000))
        // Seen from "other", only our claim counts.
        assert.deepStrictEqual(yield* next(jobs, "other"), Option.some(t0 + 12_000))
        assert.isTrue(Option.isNone(yield* next(["a", "b", "c"], "other")))
        assert.isTrue(Option.isNone(yield* next([], "me")))
      }).pipe(Effect.provide(layer)))

    it.effect("a lapsed claim is taken over once, keeping its tick; a live, finished or unknown one is not", () =>
      Effect.gen(function*() {
        const store = yield* RunStore
        const claim = (job: string, replica: string, leaseMs: number) =>
          Effect.map(store.claim({ ...claimOf(replica, T0, T0), job, leaseUntil: at(leaseMs) }), Option.getOrThrow)
        const lapsed = yield* claim("a", "dead", 5_000)
        const live = yield* claim("b", "alive", 60_000)
        const ended = yield* claim("c", "dead", 5_000)
        yield* store.finish(ended.id, "dead", { outcome: "succeeded", at: at(1_000), result: null, error: null })
        const now = at(10_000)
        const takeOver = (id: number, replica: string) => store.takeOver(id, replica, now, at(20_000))
        assert.isTrue(Option.isNone(yield* takeOver(live.id, "me")), "a live lease")
        assert.isTrue(Option.isNone(yield* takeOver(ended.id, "me")), "a finished run")
        assert.isTrue(Option.isNone(yield* takeOver(lapsed.id + live.id + ended.id, "me")), "no such claim")
        const taken = Option.getOrThrow(yield* takeOver(lapsed.id, "me"))
        const view = (r: JobRun) =>
          [
            r.id,
            r.job,
            r.replica,
            r.attempt,
            r.outcome,
            DateTime.toEpochMillis(r.scheduledAt),
            DateTime.toEpochMillis(r.startedAt!),
            DateTime.toEpochMillis(r.leaseUntil!)
          ] as const
        const expected = [lapsed.id, "a", "me", 2, "running", t0, t0 + 10_000, t0 + 20_000] as const
        assert.deepStrictEqual(view(taken), expected)
        assert.deepStrictEqual(view((yield* store.recent("a", 1))[0]), expected)
        // Its new lease is live: a second replica is too late, and the dead holder cannot come back.
        assert.isTrue(Option.isNone(yield* takeOver(lapsed.id, "third")))
        assert.isFalse(yield* store.renew(lapsed.id, "dead", at(30_000)))
        assert.isTrue(yield* store.renew(lapsed.id, "me", at(30_000)))
      }).pipe(Effect.provide(layer)))

    it.effect("catch-up starts from the job's latest scheduled tick, whatever order ticks were recorded in", () =>
      Effect.gen(function*() {
        const store = yield* RunStore
        const last = Effect.map(store.lastScheduled("job"), Option.map(DateTime.toEpochMillis))
        assert.isTrue(Option.isNone(yield* last))
        const skip = (job: string, offset: number) =>
          store.recordSkip({ job, scheduledAt: at(offset), replica: "r", now: at(offset), reason: "missed" })
        yield* skip("job", 120_000)
        yield* skip("job", 60_000)
        // Manual runs are not ticks; other jobs' ticks are theirs; a catch-up run is a tick.
        yield* store.claim({ ...claimOf("r", at(300_000), at(300_000)), trigger: "manual", ignorePause: true })
        yield* store.claim({ ...claimOf("r", at(600_000), at(600_000)), job: "other" })
        yield* store.claim({ ...claimOf("r", at(30_000), at(30_000)), trigger: "catch-up" })
        assert.deepStrictEqual(yield* last, Option.some(t0 + 120_000))
        yield* store.claim({ ...claimOf("r", at(180_000), at(180_000)), trigger: "catch-up" })
        assert.deepStrictEqual(yield* last, Option.some(t0 + 180_000))
      }).pipe(Effect.provide(layer)))

    it.effect("recent runs of a job: newest scheduled first, at most the limit", () =>
      Effect.gen(function*() {
        const store = yield* RunStore
        const skip = (job: string, offset: number) =>
          store.recordSkip({ job, scheduledAt: at(offset), replica: "r", now: at(offset), reason: "missed" })
        yield* skip("job", 0)
        yield* skip("job", 120_000)
        yield* skip("other", 180_000)
        yield* skip("job", 60_000)
        const times = (runs: ReadonlyArray<JobRun>) => runs.map((r) => DateTime.toEpochMillis(r.scheduledAt) - t0)
        assert.deepStrictEqual(times(yield* store.recent("job", 2)), [120_000, 60_000])
        assert.deepStrictEqual(times(yield* store.recent("job", 10)), [120_000, 60_000, 0])
      }).pipe(Effect.provide(layer)))
  })

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

    it.effect("history lists runs newest first, and runs scheduled at the same instant latest recorded first", () =>
      Effect.gen(function*() {
        const store = yield* RunStore
        const skip = (job: string, offset: number) =>
          store.recordSkip({ job, scheduledAt: at(offset), replica: "r", now: at(offset), reason: "missed" })
        yield* skip("a", 0)
        yield* skip("c", 60_000)
        yield* skip("b", 0)
        yield* skip("a", -60_000)
        const jobs = (runs: ReadonlyArray<JobRun>) =>
          runs.map((r) => `${r.job}@${(DateTime.toEpochMillis(r.scheduledAt) - t0) / 1000}`)
        assert.deepStrictEqual(jobs(yield* store.history({ limit: 10 })), ["c@60", "b@0", "a@0", "a@-60"])
        assert.deepStrictEqual(jobs(yield* store.history({ job: "a", limit: 10 })), ["a@0", "a@-60"])
        // `from` inclusive, `to` exclusive, together.
        assert.deepStrictEqual(jobs(yield* store.history({ from: T0, to: at(60_000), limit: 10 })), ["b@0", "a@0"])
        assert.deepStrictEqual(jobs(yield* store.history({ outcome: "skipped", limit: 2 })), ["c@60", "b@0"])
        assert.deepStrictEqual(yield* store.history({ outcome: "running", limit: 10 }), [])
      }).pipe(Effect.provide(layer)))

    it.effect("replicas: the most recently started first, then by name", () =>
      Effect.gen(function*() {
        const store = yield* RunStore
        yield* store.beat({ replica: "c", startedAt: T0, now: at(60_000), queues: [] })
        yield* store.beat({ replica: "z", startedAt: at(30_000), now: at(60_000), queues: [] })
        yield* store.beat({ replica: "b", startedAt: T0, now: at(60_000), queues: [] })
        assert.deepStrictEqual((yield* store.replicas(T0)).map((r) => r.replica), ["z", "b", "c"])
        const [z] = yield* store.replicas(T0)
        assert.isTrue(DateTime.Equivalence(z.startedAt, at(30_000)))
      }).pipe(Effect.provide(layer)))

    it.effect("pruning counts what it removed and keeps running claims and runs from the cut-off on", () =>
      Effect.gen(function*() {
        const store = yield* RunStore
        const cutOff = at(3_600_000)
        const done = Option.getOrThrow(yield* store.claim(claimOf("r", T0, T0)))
        yield* store.finish(done.id, "r", { outcome: "succeeded", at: T0, result: null, error: null })
        yield* store.recordSkip({
          job: "job",
          scheduledAt: at(60_000),
          replica: "r",
          now: at(60_000),
          reason: "missed"
        })
        yield* store.claim({ ...claimOf("r", at(120_000), at(120_000)), job: "still-running" })
        yield* store.recordSkip({ job: "job", scheduledAt: cutOff, replica: "r", now: cutOff, reason: "missed" })
        yield* store.recordSkip({ job: "job", scheduledAt: at(7_200_000), replica: "r", now: cutOff, reason: "missed" })
        assert.strictEqual(yield* store.prune(cutOff), 2)
        const left = (yield* store.history({ limit: 10 })).map((r) => `${r.job} ${r.outcome}`)
        assert.deepStrictEqual(left, ["job skipped", "job skipped", "still-running running"])
        assert.strictEqual(yield* store.prune(cutOff), 0)
      }).pipe(Effect.provide(layer)))
  })

export const suite = (name: string, layer: Layer.Layer<RunStore>) => {
  claimContract(name, layer)
  lifecycleContract(name, layer)
  operatorContract(name, layer)
}
