import { SessionCleanup } from "@clinic/cleanup"
import { Job, RunStore, SchedulerEngine } from "@clinic/scheduler-engine"
import { DateTime, Effect, Layer } from "effect"
import { SchedulerConfig } from "./SchedulerConfig.js"

export const SESSION_CLEANUP = "session-cleanup"
export const BOOKING_EXPIRY = "booking-expiry"
export const HISTORY_PRUNE = "run-history-prune"

/**
 * The jobs of the clinic. Each is idempotent, so a missed tick is caught up once (`runOnce`) after
 * downtime rather than skipped: a backlog of expired sessions is work still to do.
 */
export const makeJobs = Effect.gen(function*() {
  const config = yield* SchedulerConfig
  const cleanup = yield* SessionCleanup
  const store = yield* RunStore
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
