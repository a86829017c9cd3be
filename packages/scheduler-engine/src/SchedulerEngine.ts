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
import {
  Cause,
  Clock,
  Context,
  DateTime,
  Duration,
  Effect,
  Either,
  ExecutionStrategy,
  Exit,
  Fiber,
  FiberSet,
  Layer,
  Option,
  Ref,
  Schedule,
  Schema,
  Scope
} from "effect"
import type { Job } from "./Job.js"
import * as JobSchedule from "./JobSchedule.js"
import { json, RunStore, type StoreUnavailable } from "./RunStore.js"

export class JobTimedOut extends Schema.TaggedError<JobTimedOut>()("JobTimedOut", { message: Schema.String }) {}
class ClaimLost extends Schema.TaggedError<ClaimLost>()("ClaimLost", { message: Schema.String }) {}

export interface EngineOptions {
  readonly jobs: ReadonlyArray<Job>
  /** This process's name in the run history. */
  readonly replica: string
  /** How long a claim outlives its holder's last renewal; at most 10 s. */
  readonly lease?: Duration.DurationInput
  /** `stop` waits this long for running jobs before interrupting them. */
  readonly stopBudget?: Duration.DurationInput
  /** A tick handled later than this after its time counts as missed (and follows the missed-run policy). */
  readonly lateTolerance?: Duration.DurationInput
  /** Missed ticks recorded one by one per catch-up; older ones are counted in a log line. */
  readonly maxRecordedSkips?: number
  /** How many upcoming fire times `status` lists per job. */
  readonly upcoming?: number
  /** Backoff between attempts while the run history is unreachable. */
  readonly retry?: Schedule.Schedule<unknown>
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
  readonly pause: (name: string) => Effect.Effect<JobStatus, NotFound | StoreUnavailable>
  readonly resume: (name: string) => Effect.Effect<JobStatus, NotFound | StoreUnavailable>
  /** Takes over every running claim whose lease passed; the reaper calls it every half lease. */
  readonly takeOverExpired: Effect.Effect<number, StoreUnavailable>
}

const errorText = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  const text = error instanceof Error
    ? `${(error as { _tag?: string })._tag ?? error.name}: ${error.message}`
    : typeof error === "object" && error !== null && "_tag" in error
    ? JSON.stringify(error)
    : String(error)
  return text.slice(0, 2000)
}

export const make = (options: EngineOptions) =>
  Effect.gen(function*() {
    const store = yield* RunStore
    const engineScope = yield* Effect.scope
    const replica = options.replica
    const lease = Duration.min(Duration.decode(options.lease ?? "10 seconds"), Duration.seconds(10))
    const stopBudget = Duration.decode(options.stopBudget ?? "30 seconds")
    const tolerance = Duration.toMillis(Duration.decode(options.lateTolerance ?? "5 seconds"))
    const maxRecordedSkips = options.maxRecordedSkips ?? 1000
    const upcoming = options.upcoming ?? 5
    const retry = options.retry ??
      Schedule.exponential("200 millis").pipe(Schedule.union(Schedule.spaced("15 seconds")), Schedule.jittered)
    const jobs = new Map(options.jobs.map((job) => [job.name, job]))
    if (jobs.size !== options.jobs.length) return yield* Effect.dieMessage("job names must be unique")

    const state = yield* Ref.make<SchedulerState>("not-started")
    const lifecycle = yield* Effect.makeSemaphore(1)
    const runs = yield* FiberSet.make<JobRun>()
    const runningByJob = yield* Ref.make<ReadonlyMap<string, number>>(new Map())
    const activeRunIds = yield* Ref.make<ReadonlySet<number>>(new Set())
    const loops = yield* Ref.make<Option.Option<Scope.CloseableScope>>(Option.none())

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
      ).pipe(FiberSet.run(runs))

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
        }))

    /**
     * One job's loop: sleep until the next fire time (on the Clock, so TestClock drives it), then
     * handle every tick due since the last handled one. On time: claim and run. Late beyond the
     * tolerance (downtime, a lost database): the missed-run policy. The cursor only moves past
     * ticks whose claim or skip was stored, so a lost database delays ticks but never loses them.
     */
    const jobLoop = (job: Job) =>
      Effect.gen(function*() {
        const backoff = yield* Schedule.driver(retry)
        const waitAndRetry = (error: StoreUnavailable) =>
          Effect.logWarning("run history unreachable; retrying", error.message).pipe(
            Effect.zipRight(Effect.ignore(backoff.next(undefined)))
          )
        let cursor: number = yield* store.lastScheduled(job.name).pipe(
          Effect.tapError(waitAndRetry),
          Effect.retry({ while: () => true }),
          Effect.flatMap(Option.match({
            onNone: () => Clock.currentTimeMillis,
            onSome: (last) => Effect.succeed(DateTime.toEpochMillis(last))
          }))
        )
        yield* backoff.reset
        while (true) {
          const next = JobSchedule.nextAfter(job.schedule, cursor)
          const before = yield* Clock.currentTimeMillis
          if (next > before) yield* Effect.sleep(Duration.millis(next - before))
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
            const handled = yield* Effect.either(
              action === "skip" ? Effect.asVoid(recordMissed(job, t)) : Effect.asVoid(fire(job, t, action))
            )
            if (Either.isLeft(handled)) {
              yield* waitAndRetry(handled.left)
              break
            }
            yield* backoff.reset
            cursor = t
          }
        }
      }).pipe(Effect.annotateLogs({ job: job.name }))

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

    const reaper = takeOverExpired.pipe(
      Effect.catchAll((e) => Effect.logWarning("lease reaper: run history unreachable", e.message)),
      Effect.repeat(Schedule.spaced(Duration.divide(lease, 2).pipe(Option.getOrElse(() => lease))))
    )

    const start = lifecycle.withPermits(1)(Effect.gen(function*() {
      if ((yield* Ref.get(state)) === "running") {
        return yield* Effect.logWarning("scheduler already running; start ignored")
      }
      const scope = yield* Scope.fork(engineScope, ExecutionStrategy.sequential)
      yield* Ref.set(loops, Option.some(scope))
      // Forked fibers inherit the caller's log annotations, not the constructor's: annotate here.
      for (const job of jobs.values()) {
        yield* Effect.forkIn(jobLoop(job).pipe(Effect.annotateLogs({ service: "scheduler", replica })), scope)
      }
      yield* Effect.forkIn(reaper.pipe(Effect.annotateLogs({ service: "scheduler", replica })), scope)
      yield* Ref.set(state, "running")
      yield* Effect.logInfo("scheduler started").pipe(
        Effect.annotateLogs({ replica, jobs: [...jobs.keys()].join(",") })
      )
    }))

    const stop = lifecycle.withPermits(1)(Effect.gen(function*() {
      if ((yield* Ref.get(state)) !== "running") return yield* Effect.logDebug("scheduler not running; stop ignored")
      yield* Ref.set(state, "stopped")
      const scope = yield* Ref.getAndSet(loops, Option.none())
      if (Option.isSome(scope)) yield* Scope.close(scope.value, Exit.void)
      const drained = yield* FiberSet.awaitEmpty(runs).pipe(Effect.timeout(stopBudget), Effect.option)
      if (Option.isNone(drained)) {
        yield* Effect.logWarning("stop budget spent; interrupting running jobs")
        yield* Fiber.interruptAll(Array.from(runs))
      }
      yield* Effect.logInfo("scheduler stopped")
    }))

    yield* Effect.addFinalizer(() => stop)

    const lookup = (name: string) => {
      const job = jobs.get(name)
      return job ? Effect.succeed(job) : Effect.fail(notFound("Job", name))
    }

    const statusOf = (job: Job, paused: ReadonlySet<string>) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const last = yield* store.recent(job.name, 1)
        const running = (yield* Ref.get(runningByJob)).get(job.name) ?? 0
        return new JobStatus({
          name: job.name,
          schedule: JobSchedule.describe(job.schedule),
          paused: paused.has(job.name),
          running: running > 0,
          nextRuns: JobSchedule.nextN(job.schedule, now, upcoming),
          lastRun: last[0] ?? null
        })
      })

    const oneStatus = (name: string) =>
      Effect.flatMap(lookup(name), (job) => Effect.flatMap(store.pausedJobs, (paused) => statusOf(job, paused)))

    const setPaused = (name: string, paused: boolean) =>
      Effect.gen(function*() {
        yield* lookup(name)
        yield* store.setPaused(name, paused, yield* DateTime.now)
        yield* Effect.logInfo(paused ? "job paused" : "job resumed").pipe(Effect.annotateLogs({ job: name }))
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
          state: yield* Ref.get(state),
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
      pause: (name) => setPaused(name, true),
      resume: (name) => setPaused(name, false),
      takeOverExpired
    } satisfies SchedulerEngineShape
  }).pipe(Effect.annotateLogs({ service: "scheduler" }))

export class SchedulerEngine extends Context.Tag("@clinic/scheduler-engine/SchedulerEngine")<
  SchedulerEngine,
  SchedulerEngineShape
>() {
  /** An engine over `RunStore`, stopped (gracefully, under its budget) when the layer is released. */
  static readonly make = make
  static readonly layer = (options: EngineOptions) => Layer.scoped(SchedulerEngine, make(options))
}
