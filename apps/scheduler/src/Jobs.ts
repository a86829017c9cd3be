import { enqueueFeedSyncs } from "@clinic/calendar"
import { SessionCleanup } from "@clinic/cleanup"
import { EventBus, OutboxStore } from "@clinic/events"
import { TaskStore } from "@clinic/queue"
import { ExternalCalendarRepo } from "@clinic/repository"
import { Job, RunStore, SchedulerEngine } from "@clinic/scheduler-engine"
import { DateTime, Effect, Layer, Option } from "effect"
import { TaskRegistry } from "./Background.js"
import * as PeriodicTasks from "./PeriodicTasks.js"
import { SchedulerConfig } from "./SchedulerConfig.js"

export const AUTH_SESSION_CLEANUP = "auth-session-cleanup"
export const BOOKING_HOLD_EXPIRY = "booking-hold-expiry"
export const HISTORY_PRUNE = "run-history-prune"
export const EVENTS_PRUNE = "processed-events-prune"
export const CALENDAR_SYNC = "calendar-sync"

/** The names of the clinic's own jobs; a periodic task entry may not take one. */
export const BUILT_IN_JOBS = [AUTH_SESSION_CLEANUP, BOOKING_HOLD_EXPIRY, HISTORY_PRUNE, EVENTS_PRUNE, CALENDAR_SYNC]

/**
 * The jobs of the clinic, then one job per entry of `SCHEDULER_PERIODIC_TASKS`. Each is
 * idempotent, so a missed tick is caught up once (`runOnce`) after downtime rather than skipped:
 * a backlog of expired sessions is work still to do. A bad periodic entry fails with
 * `RegistryError`, which lists every problem.
 */
export const makeJobs = Effect.gen(function*() {
  const config = yield* SchedulerConfig
  const cleanup = yield* SessionCleanup
  const store = yield* RunStore
  const outbox = yield* OutboxStore
  const tasks = yield* TaskStore
  const calendars = yield* ExternalCalendarRepo
  const registry = yield* TaskRegistry
  const builtIn = [
    Job.make({
      name: AUTH_SESSION_CLEANUP,
      schedule: config.authSessionCleanup,
      run: Effect.gen(function*() {
        const expired = yield* cleanup.expiredSessions
        const inactive = yield* cleanup.cleanupInactiveSessions()
        if (inactive.error !== undefined) return yield* Effect.fail(new Error(inactive.error))
        return { expired, inactive }
      }),
      timeout: "10 minutes",
      missed: "runOnce"
    }),
    Job.make({
      name: BOOKING_HOLD_EXPIRY,
      schedule: config.bookingHoldExpiry,
      run: cleanup.expirePendingBookingsOrFail,
      timeout: "55 seconds",
      missed: "runOnce"
    }),
    Job.make({
      name: HISTORY_PRUNE,
      schedule: config.historyPrune,
      run: Effect.gen(function*() {
        const before = DateTime.subtractDuration(yield* DateTime.now, config.historyRetention)
        return { deletedRuns: yield* store.prune(before), before: DateTime.formatIso(before) }
      }),
      timeout: "5 minutes",
      missed: "runOnce"
    }),
    Job.make({
      name: EVENTS_PRUNE,
      schedule: config.eventsPrune,
      run: Effect.map(EventBus.pruneProcessed("1 hour"), (deletedRecords) => ({ deletedRecords })).pipe(
        Effect.provideService(OutboxStore, outbox)
      ),
      timeout: "5 minutes",
      missed: "runOnce"
    }),
    Job.make({
      name: CALENDAR_SYNC,
      schedule: config.calendarSync,
      // One `calendar.sync-feed` task per feed, keyed by the tick; the calendar queue's workers
      // fetch them, as they fetch a feed the API has just added.
      run: ({ scheduledAt }) =>
        enqueueFeedSyncs(scheduledAt).pipe(
          Effect.provideService(TaskStore, tasks),
          Effect.provideService(ExternalCalendarRepo, calendars)
        ),
      timeout: "1 minute",
      missed: "runOnce"
    })
  ]
  const periodic = yield* PeriodicTasks.toJobs(registry.tasks, config.periodicTasks, { reservedNames: BUILT_IN_JOBS })
    .pipe(
      Effect.provideService(TaskStore, tasks),
      Effect.tapError((error) => Effect.logError(error.message))
    )
  return [...builtIn, ...periodic]
})

/** The engine with the clinic's jobs; stopped gracefully (under the stop budget) when released. */
export const EngineLive = Layer.scoped(
  SchedulerEngine,
  Effect.gen(function*() {
    const config = yield* SchedulerConfig
    const registry = yield* TaskRegistry
    const jobs = yield* makeJobs
    return yield* SchedulerEngine.make({
      jobs,
      replica: config.replica,
      lease: config.lease,
      stopBudget: config.stopBudget,
      // What its heartbeat says this replica works: the task queues, and the event bus's deliveries.
      queues: [...Option.getOrElse(config.workQueues, () => [...registry.queues.keys()]), "events"]
    })
  })
)

/** Starts the engine when the app starts; its scope's finalizer stops it. */
export const SchedulerLive = Layer.scopedDiscard(Effect.flatMap(SchedulerEngine, (engine) => engine.start))
