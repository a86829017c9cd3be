import {
  JobDetail,
  type JobRun,
  JobStatus,
  type NotFound,
  notFound,
  type RunTrigger,
  type SchedulerState,
  SchedulerStatus
} from "@clinic/domain"
import { BackgroundLoop, withMethodSpans } from "@clinic/foundation"
import {
  Cause,
  Clock,
  Context,
  DateTime,
  Duration,
  Effect,
  Exit,
  Fiber,
  Layer,
  Option,
  Ref,
  Schedule,
  Schema
} from "effect"
import type { Job } from "./Job.js"
import * as JobSchedule from "./JobSchedule.js"
import * as Metrics from "./Metrics.js"
import { json, RunStore, type StoreUnavailable } from "./RunStore.js"

export class JobTimedOut extends Schema.TaggedError<JobTimedOut>()("JobTimedOut", { message: Schema.String }) {}
class ClaimLost extends Schema.TaggedError<ClaimLost>()("ClaimLost", { message: Schema.String }) {}

export interface EngineOptions {
  readonly jobs: ReadonlyArray<Job>
  /** This process's name in the run history. */
  readonly replica: string
  /**
   * How long a claim outlives its holder's last renewal; at most 10 s, default 6 s. It is renewed
   * every third of it, and another replica takes it over as soon as it passes, so a killed
   * holder's tick runs again within one lease of the kill.
   */
  readonly lease?: Duration.DurationInput
  /** `stop` waits this long for running jobs before interrupting them. */
  readonly stopBudget?: Duration.DurationInput
  /** A tick handled later than this after its time counts as missed (and follows the missed-run policy). */
  readonly lateTolerance?: Duration.DurationInput
  /** Missed ticks recorded one by one per catch-up; older ones are counted in a log line. */
  readonly maxRecordedSkips?: number
  /** How many upcoming fire times `status` lists per job. */
  readonly upcoming?: number
  /** Backoff between attempts while the run history is unreachable; default 200 ms doubling up to 15 s. */
  readonly backoff?: BackgroundLoop.Backoff
  /** The task queues this process's workers take, listed with its heartbeat (the replicas view). */
  readonly queues?: ReadonlyArray<string>
}

export interface SchedulerEngineShape {
  readonly replica: string
  readonly jobs: ReadonlyArray<Job>
  /** Forks one loop per job (and a lease reaper); a second start warns and changes nothing. */
  readonly start: Effect.Effect<void>
  /**
   * Stops taking ticks, waits for running jobs up to the stop budget, then interrupts them (recorded
   * as interrupted). Stopping an engine that is not running does nothing.
   */
  readonly stop: Effect.Effect<void>
  readonly status: Effect.Effect<SchedulerStatus, StoreUnavailable>
  readonly job: (name: string, recentRuns?: number) => Effect.Effect<JobDetail, NotFound | StoreUnavailable>
  /** Runs a job at once (even when paused or stopped) and returns its finished run; skipped if it is running. */
  readonly runNow: (name: string) => Effect.Effect<JobRun, NotFound | StoreUnavailable>
  /** Pauses a job on every replica, keeping the operator's reason (shown in its status). */
  readonly pause: (name: string, reason?: string | null) => Effect.Effect<JobStatus, NotFound | StoreUnavailable>
  readonly resume: (name: string) => Effect.Effect<JobStatus, NotFound | StoreUnavailable>
  /**
   * Takes over every running claim whose lease passed; the reaper calls it just after the earliest
   * lease of another replica ends, and at least every half lease.
   */
  readonly takeOverExpired: Effect.Effect<number, StoreUnavailable>
}

// A tagged failure JSON cannot write (a cycle, a bigint) is still recorded, by its tag: a throw here
// would leave the run's end unrecorded.
const taggedText = (error: { readonly _tag: unknown }): string => {
  try {
    return JSON.stringify(error)
  } catch {
    return String(error._tag)
  }
}

const errorText = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  const text = error instanceof Error
    ? `${(error as { _tag?: string })._tag ?? error.name}: ${error.message}`
    : typeof error === "object" && error !== null && "_tag" in error
    ? taggedText(error as { readonly _tag: unknown })
    : String(error)
  return text.slice(0, 2000)
}

/** The domain's view of the loop: a stopping engine takes no ticks any more. */
const schedulerState = (state: BackgroundLoop.State): SchedulerState =>
  state === "not-started" ? "not-started" : state === "starting" || state === "running" ? "running" : "stopped"

const makeUntraced = (options: EngineOptions) =>
  Effect.gen(function*() {
    const store = yield* RunStore
    const replica = options.replica
    const lease = Duration.min(Duration.decode(options.lease ?? "6 seconds"), Duration.seconds(10))
    const stopBudget = Duration.decode(options.stopBudget ?? "30 seconds")
    const tolerance = Duration.toMillis(Duration.decode(options.lateTolerance ?? "5 seconds"))
    const maxRecordedSkips = options.maxRecordedSkips ?? 1000
    const upcoming = options.upcoming ?? 5
    const backoff = options.backoff ?? { initial: "200 millis", max: "15 seconds" }
    const jobs = new Map(options.jobs.map((job) => [job.name, job]))
    if (jobs.size !== options.jobs.length) return yield* Effect.dieMessage("job names must be unique")

    const runningByJob = yield* Ref.make<ReadonlyMap<string, number>>(new Map())
    const activeRunIds = yield* Ref.make<ReadonlySet<number>>(new Set())

    const leaseFrom = (now: DateTime.Utc) => DateTime.addDuration(now, lease)
    const countRunning = (name: string, delta: number) =>
      Ref.update(runningByJob, (m) => new Map(m).set(name, (m.get(name) ?? 0) + delta))

    /** Renews the claim every third of the lease; fails once the claim is no longer ours. */
    const heartbeat = (run: JobRun) =>
      Effect.gen(function*() {
        yield* Effect.sleep(Duration.divide(lease, 3).pipe(Option.getOrElse(() => lease)))
        const now = yield* DateTime.now
        const ours = yield* store.renew(run.id, replica, leaseFrom(now)).pipe(
          Effect.catchTag(
            "StoreUnavailable",
            (e) => Effect.as(Effect.logWarning("lease not renewed; retrying", e.message), true)
          )
        )
        if (!ours) return yield* new ClaimLost({ message: "the claim was taken over by another replica" })
      }).pipe(Effect.forever)

    const finishWith = (run: JobRun, exit: Exit.Exit<unknown, unknown>) =>
      Effect.gen(function*() {
        const at = yield* DateTime.now
        const end = Exit.match(exit, {
          onSuccess: (result) => ({ outcome: "succeeded" as const, result, error: null }),
          onFailure: (cause) =>
            Cause.isInterruptedOnly(cause)
              ? { outcome: "interrupted" as const, result: null, error: "interrupted" }
              : { outcome: "failed" as const, result: null, error: errorText(cause) }
        })
        if (end.outcome === "failed") yield* Effect.logError("job failed", Exit.isFailure(exit) ? exit.cause : "")
        else yield* Effect.logInfo(`job ${end.outcome}`)
        yield* Metrics.recordRun(run.job, end.outcome, at)
        // Bounded: a stop must not hang on a dead database; an unrecorded end lets the lease lapse.
        yield* store.finish(run.id, replica, { ...end, at }).pipe(
          Effect.retry({ schedule: Schedule.exponential("100 millis"), times: 4 }),
          Effect.catchAll((e) => Effect.logError("run end not recorded", e.message))
        )
        const text = end.outcome === "succeeded" ? json(end.result) : null
        const result = text === null ? null : JSON.parse(text)
        return { ...run, outcome: end.outcome, finishedAt: at, leaseUntil: null, result, error: end.error } as JobRun
      })

    /** Runs a claimed tick in the engine's scope: its own fiber, timeout, lease renewal, recorded end. */
    const launch = (job: Job, run: JobRun) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          yield* countRunning(job.name, 1)
          yield* Ref.update(activeRunIds, (ids) => new Set(ids).add(run.id))
          // A manual run is scheduled when it is asked for: never late.
          if (run.trigger !== "manual") yield* Metrics.recordLateness(job.name, run.scheduledAt, yield* DateTime.now)
          const work = job.run({ scheduledAt: run.scheduledAt, trigger: run.trigger }).pipe(
            Effect.timeoutFail({
              duration: job.timeout,
              onTimeout: () => new JobTimedOut({ message: `timed out after ${Duration.format(job.timeout)}` })
            }),
            Effect.raceFirst(heartbeat(run))
          )
          const exit = yield* Effect.exit(restore(work))
          return yield* finishWith(run, exit)
        }).pipe(
          Effect.ensuring(Effect.zipRight(
            countRunning(job.name, -1),
            Ref.update(activeRunIds, (ids) => {
              const next = new Set(ids)
              next.delete(run.id)
              return next
            })
          )),
          Effect.annotateLogs({ job: job.name, runId: run.id, scheduledAt: DateTime.formatIso(run.scheduledAt) }),
          Effect.withSpan("SchedulerEngine.run", { attributes: { job: job.name } })
        )
      ).pipe((run) => loop.fork(run))

    /** Claims one tick; runs it when the claim is ours and the job free, else it is recorded skipped. */
    const fire = (job: Job, scheduledAt: number, trigger: RunTrigger, ignorePause = false) =>
      Effect.gen(function*() {
        const now = yield* DateTime.now
        const claimed = yield* store.claim({
          job: job.name,
          scheduledAt: DateTime.unsafeMake(scheduledAt),
          trigger,
          replica,
          now,
          leaseUntil: leaseFrom(now),
          ignorePause
        })
        if (Option.isNone(claimed)) return Option.none<Fiber.RuntimeFiber<JobRun>>()
        if (claimed.value.outcome === "skipped") {
          yield* Effect.logInfo("tick skipped").pipe(Effect.annotateLogs({ reason: claimed.value.error }))
          yield* Metrics.recordRun(job.name, "skipped", now)
          return Option.none()
        }
        return Option.some(yield* launch(job, claimed.value))
      }).pipe(
        Effect.annotateLogs({ job: job.name, scheduledAt: new Date(scheduledAt).toISOString() }),
        Effect.withSpan("SchedulerEngine.fire")
      )

    const recordMissed = (job: Job, scheduledAt: number) =>
      Effect.flatMap(DateTime.now, (now) =>
        store.recordSkip({
          job: job.name,
          scheduledAt: DateTime.unsafeMake(scheduledAt),
          replica,
          now,
          reason: "missed: no replica ran it on time"
        }).pipe(Effect.tap((recorded) => recorded ? Metrics.recordRun(job.name, "skipped", now) : Effect.void)))

    /**
     * One job's iteration: handle every tick due since the last handled one, then sleep until the
     * next fire time (on the Clock, so TestClock drives it). On time: claim and run. Late beyond the
     * tolerance (downtime, a lost database): the missed-run policy. The cursor only moves past ticks
     * whose claim or skip was stored, so a lost database (the loop backs off) delays ticks but never
     * loses them. Each start reads the cursor afresh from the run history, and never begins later
     * than `since` (this start): ticks that passed while the history was unreachable are owed as
     * they would be with an older history, even when it had no row or only later ones then.
     */
    const jobIteration = (job: Job, since: number): BackgroundLoop.Iteration => {
      let cursor: number | undefined
      return {
        annotations: { job: job.name },
        run: Effect.gen(function*() {
          if (cursor === undefined) {
            cursor = yield* store.lastScheduled(job.name).pipe(
              Effect.map(Option.match({
                onNone: () => since,
                // History that began after this start (another replica's, while this one could not
                // reach the store) does not cover the ticks before it: walk them too. Ticks already
                // recorded are no-ops for the claim and the skip.
                onSome: (last) => Math.min(DateTime.toEpochMillis(last), since)
              }))
            )
          }
          const now = yield* Clock.currentTimeMillis
          const due = JobSchedule.fireTimesBetween(job.schedule, cursor, now, 1_000_000)
          const late = due.filter((t) => now - t > tolerance)
          const onTime = due.filter((t) => now - t <= tolerance)
          const plan: Array<readonly [number, "skip" | "catch-up" | "schedule"]> = []
          if (late.length > 0) {
            const skipped = job.missed === "runOnce" ? late.slice(0, -1) : late
            if (skipped.length > maxRecordedSkips) {
              yield* Effect.logWarning("missed ticks not recorded one by one").pipe(
                Effect.annotateLogs({ job: job.name, count: skipped.length - maxRecordedSkips })
              )
              cursor = skipped[skipped.length - maxRecordedSkips - 1]
            }
            for (const t of skipped.slice(-maxRecordedSkips)) plan.push([t, "skip"])
            if (job.missed === "runOnce") plan.push([late[late.length - 1], "catch-up"])
            yield* Effect.logWarning("missed ticks").pipe(
              Effect.annotateLogs({ job: job.name, missed: late.length, policy: job.missed })
            )
          }
          for (const t of onTime) plan.push([t, "schedule"])
          for (const [t, action] of plan) {
            yield* action === "skip" ? Effect.asVoid(recordMissed(job, t)) : Effect.asVoid(fire(job, t, action))
            cursor = t
          }
          return false
        }),
        idle: Effect.flatMap(Clock.currentTimeMillis, (now) => {
          const next = JobSchedule.nextAfter(job.schedule, cursor ?? now)
          return next > now ? Effect.sleep(Duration.millis(next - now)) : Effect.void
        })
      }
    }

    const jobIterations = (since: number) => [...jobs.values()].map((job) => jobIteration(job, since))

    const takeOverExpired = Effect.gen(function*() {
      const now = yield* DateTime.now
      const expired = yield* store.expiredClaims([...jobs.keys()], now)
      const ours = yield* Ref.get(activeRunIds)
      let taken = 0
      for (const run of expired) {
        const job = jobs.get(run.job)
        // Our own run whose renewals failed is still running here: taking it over would run it twice.
        if (!job || ours.has(run.id)) continue
        const claimed = yield* store.takeOver(run.id, replica, now, leaseFrom(now))
        if (Option.isSome(claimed)) {
          taken++
          yield* Effect.logWarning("claim of a dead replica taken over").pipe(
            Effect.annotateLogs({ job: run.job, previousReplica: run.replica, runId: run.id })
          )
          yield* launch(job, claimed.value)
        }
      }
      return taken
    })

    const startedAt = yield* Ref.make(Option.none<DateTime.Utc>())
    /** This replica's heartbeat: the replicas view counts it alive while beats are recent. */
    const beat = Effect.gen(function*() {
      const now = yield* DateTime.now
      const since = yield* Ref.updateAndGet(startedAt, Option.orElse(() => Option.some(now)))
      yield* store.beat({
        replica,
        startedAt: Option.getOrElse(since, () => now),
        now,
        queues: options.queues ?? []
      })
    })

    const halfLease = Duration.toMillis(lease) / 2
    let reaperWake: number | undefined
    /**
     * Beats, takes over expired claims, then sleeps until just after the earliest lease another
     * replica holds ends, or half a lease (a claim made meanwhile ends no sooner than a lease from
     * now; the heartbeat is due every half lease).
     * A holder killed right after a renewal is taken over one lease after the kill, at worst.
     */
    const reaper: BackgroundLoop.Iteration = {
      run: Effect.gen(function*() {
        yield* beat
        yield* takeOverExpired
        const now = yield* DateTime.now
        const next = yield* store.nextLeaseExpiry([...jobs.keys()], replica, now)
        const poll = DateTime.toEpochMillis(now) + halfLease
        // `expiredClaims` wants the lease strictly passed: one millisecond after its end.
        reaperWake = Option.match(next, {
          onNone: () => poll,
          onSome: (end) => Math.min(poll, DateTime.toEpochMillis(end) + 1)
        })
        return false
      }),
      idle: Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.sleep(Duration.millis(Math.max(0, (reaperWake ?? now + halfLease) - now)))),
      annotations: { reaper: true }
    }

    const loop = yield* BackgroundLoop.make({
      name: "scheduler",
      drainBudget: stopBudget,
      backoff,
      annotations: { replica },
      // Built at each start, whose time is where a job's cursor begins at the latest.
      iterations: Effect.map(Clock.currentTimeMillis, (since) => [...jobIterations(since), reaper])
    })

    const start = Effect.gen(function*() {
      if (!(yield* loop.start)) {
        return yield* Effect.logWarning("scheduler already running; start ignored")
      }
      yield* Effect.logInfo("scheduler started").pipe(
        Effect.annotateLogs({ replica, jobs: [...jobs.keys()].join(",") })
      )
    })

    /** Stops taking ticks, drains running jobs under the stop budget, then interrupts them (recorded interrupted). */
    const stop = Effect.gen(function*() {
      if (!(yield* loop.stop())) {
        return yield* Effect.logDebug("scheduler not running; stop ignored")
      }
      yield* Ref.set(startedAt, Option.none())
      yield* store.leave(replica).pipe(Effect.catchAll((e) =>
        Effect.logWarning("heartbeat not removed", e.message)
      ))
      yield* Effect.logInfo("scheduler stopped")
    })

    // After the loop's own finalizer was added, so this one (with its log line) runs first.
    yield* Effect.addFinalizer(() => stop)

    const lookup = (name: string) => {
      const job = jobs.get(name)
      return job ? Effect.succeed(job) : Effect.fail(notFound("Job", name))
    }

    const statusOf = (job: Job, paused: ReadonlyMap<string, string | null>) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const last = yield* store.recent(job.name, 1)
        const running = (yield* Ref.get(runningByJob)).get(job.name) ?? 0
        return new JobStatus({
          name: job.name,
          schedule: JobSchedule.describe(job.schedule),
          paused: paused.has(job.name),
          pausedReason: paused.get(job.name) ?? null,
          running: running > 0,
          nextRuns: JobSchedule.nextN(job.schedule, now, upcoming),
          lastRun: last[0] ?? null
        })
      })

    const oneStatus = (name: string) =>
      Effect.flatMap(lookup(name), (job) => Effect.flatMap(store.pausedJobs, (paused) => statusOf(job, paused)))

    const setPaused = (name: string, paused: boolean, reason: string | null) =>
      Effect.gen(function*() {
        yield* lookup(name)
        yield* store.setPaused(name, paused, yield* DateTime.now, reason)
        yield* Effect.logInfo(paused ? "job paused" : "job resumed").pipe(Effect.annotateLogs({ job: name, reason }))
        return yield* oneStatus(name)
      })

    return {
      replica,
      jobs: options.jobs,
      start,
      stop,
      status: Effect.gen(function*() {
        const paused = yield* store.pausedJobs
        return new SchedulerStatus({
          state: schedulerState(yield* loop.state),
          replica,
          jobs: yield* Effect.forEach(jobs.values(), (job) => statusOf(job, paused))
        })
      }),
      job: (name, recentRuns = 20) =>
        Effect.gen(function*() {
          const status = yield* oneStatus(name)
          return new JobDetail({ status, recentRuns: yield* store.recent(name, recentRuns) })
        }),
      runNow: (name) =>
        Effect.gen(function*() {
          const job = yield* lookup(name)
          const now = yield* Clock.currentTimeMillis
          const fiber = yield* fire(job, now, "manual", true)
          if (Option.isSome(fiber)) return yield* Fiber.join(fiber.value)
          // Skipped (another run in progress) or, within the same millisecond, another manual run.
          const recent = yield* store.recent(name, 20)
          const run = recent.find((r) => DateTime.toEpochMillis(r.scheduledAt) === now)
          return run ?? (yield* Effect.dieMessage("manual run neither claimed nor recorded"))
        }).pipe(Effect.annotateLogs({ job: name, trigger: "manual" })),
      pause: (name, reason = null) => setPaused(name, true, reason),
      resume: (name) => setPaused(name, false, null),
      takeOverExpired
    } satisfies SchedulerEngineShape
  }).pipe(Effect.annotateLogs({ service: "scheduler" }))

/**
 * An engine over `RunStore` in the scope; each of its methods starts a span named
 * `SchedulerEngine.<method>`, whoever builds it (the layer, an app's own layer, tests).
 */
export const make = (options: EngineOptions) => makeUntraced(options).pipe(withMethodSpans("SchedulerEngine"))

export class SchedulerEngine extends Context.Tag("@clinic/scheduler-engine/SchedulerEngine")<
  SchedulerEngine,
  SchedulerEngineShape
>() {
  static readonly make = make
  /** An engine over `RunStore`, stopped (gracefully, under its budget) when the layer is released. */
  static readonly layer = (options: EngineOptions) => Layer.scoped(SchedulerEngine, make(options))
}
