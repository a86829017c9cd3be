import { ExternalCalendarSync } from "@clinic/calendar"
import { SessionCleanup } from "@clinic/cleanup"
import { EventBus, OutboxStore } from "@clinic/events"
import { Beat, TaskStore } from "@clinic/queue"
import { Job, RunStore, SchedulerEngine } from "@clinic/scheduler-engine"
import { DateTime, Effect, Layer, Ref } from "effect"
import { TaskRegistry } from "./Background.js"
import { SchedulerConfig } from "./SchedulerConfig.js"

export const SESSION_CLEANUP = "session-cleanup"
export const BOOKING_EXPIRY = "booking-expiry"
export const HISTORY_PRUNE = "run-history-prune"
export const EVENTS_PRUNE = "processed-events-prune"
export const TASK_BEAT = "task-beat"
export const CALENDAR_SYNC = "calendar-sync"

/**
 * The jobs of the clinic. Each is idempotent, so a missed tick is caught up once (`runOnce`) after
 * downtime rather than skipped: a backlog of expired sessions is work still to do.
 */
export const makeJobs = Effect.gen(function*() {
  const config = yield* SchedulerConfig
  const cleanup = yield* SessionCleanup
  const store = yield* RunStore
  const outbox = yield* OutboxStore
  const tasks = yield* TaskStore
  const registry = yield* TaskRegistry
  const calendars = yield* ExternalCalendarSync
  // Where the beat resumes after a (re)start: occurrences older than the catch-up window are not
  // enqueued again; those inside it are, once (the idempotency key names entry and instant).
  const lastBeat = yield* Ref.make(DateTime.subtractDuration(yield* DateTime.now, config.beatCatchUp))
  return [
    Job.make({
      name: SESSION_CLEANUP,
      schedule: config.sessionCleanup,
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
      name: BOOKING_EXPIRY,
      schedule: config.bookingExpiry,
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
      name: TASK_BEAT,
      schedule: config.beat,
      run: Effect.gen(function*() {
        const now = yield* DateTime.now
        const enqueued = yield* Beat.enqueueDue(registry, yield* Ref.get(lastBeat), now)
        yield* Ref.set(lastBeat, now)
        return {
          enqueued: enqueued.map((e) => ({ entry: e.entry, at: DateTime.formatIso(e.at), inserted: e.inserted }))
        }
      }).pipe(Effect.provideService(TaskStore, tasks)),
      timeout: "30 seconds",
      missed: "skip"
    }),
    Job.make({
      name: CALENDAR_SYNC,
      schedule: config.calendarSync,
      // A failing feed keeps its previous import and records why; the run reports the counts.
      run: calendars.syncAll,
      timeout: "5 minutes",
      missed: "runOnce"
    })
  ]
})

/** The engine with the clinic's jobs; stopped gracefully (under the stop budget) when released. */
export const EngineLive = Layer.scoped(
  SchedulerEngine,
  Effect.gen(function*() {
    const config = yield* SchedulerConfig
    const jobs = yield* makeJobs
    return yield* SchedulerEngine.make({
      jobs,
      replica: config.replica,
      lease: config.lease,
      stopBudget: config.stopBudget
    })
  })
)

/** Starts the engine when the app starts; its scope's finalizer stops it. */
export const SchedulerLive = Layer.scopedDiscard(Effect.flatMap(SchedulerEngine, (engine) => engine.start))
