import { JobSchedule } from "@clinic/scheduler-engine"
import { Config, ConfigError, Duration, Effect, Either, Schema } from "effect"
import * as Os from "node:os"
import * as PeriodicTasks from "./PeriodicTasks.js"

/** A job's schedule from config, in `SCHEDULER_TIME_ZONE`: see `JobSchedule.parse`. */
const schedule = (name: string, fallback: string, timeZone: string) =>
  Config.string(name).pipe(
    Config.withDefault(fallback),
    Config.mapOrFail((text) =>
      Either.mapLeft(JobSchedule.parse(text, timeZone), (e) => ConfigError.InvalidData([name], e.message))
    )
  )

const DEFAULT_PERIODIC = JSON.stringify([{
  name: "nightly-maintenance",
  task: "maintenance.prune",
  cron: "15 4 * * *"
}])

/**
 * `SCHEDULER_PERIODIC_TASKS`: a JSON array of `{ name, task, cron | every, timeZone?, payload? }`.
 * Only the shape is read here; tasks, schedules and payloads are checked when the jobs are made.
 */
const periodicTasks = (name: string) =>
  Config.string(name).pipe(
    Config.withDefault(DEFAULT_PERIODIC),
    Config.mapOrFail((text) =>
      Either.mapLeft(
        Schema.decodeUnknownEither(Schema.parseJson(Schema.Array(PeriodicTasks.PeriodicEntry)))(text),
        (e) => ConfigError.InvalidData([name], `expected a JSON array of periodic entries: ${e.message}`)
      )
    )
  )

/** Every setting of the scheduler app, read in one place; defaults fit the embedded local setup. */
export class SchedulerConfig extends Effect.Service<SchedulerConfig>()("@clinic/scheduler/SchedulerConfig", {
  effect: Effect.gen(function*() {
    const timeZone = yield* Config.string("SCHEDULER_TIME_ZONE").pipe(Config.withDefault("UTC"))
    return {
      host: yield* Config.string("SCHEDULER_HOST").pipe(Config.withDefault("127.0.0.1")),
      port: yield* Config.port("SCHEDULER_PORT").pipe(Config.withDefault(3001)),
      /** Unset: every admin endpoint but health answers 401 (nothing is exposed by accident). */
      adminToken: yield* Config.option(Config.redacted("SCHEDULER_ADMIN_TOKEN")),
      replica: yield* Config.string("SCHEDULER_REPLICA_ID").pipe(
        Config.withDefault(`${Os.hostname()}-${process.pid}`)
      ),
      lease: yield* Config.duration("SCHEDULER_LEASE").pipe(
        Config.validate({
          message: "at most 10 seconds",
          validation: (d) => Duration.lessThanOrEqualTo(d, "10 seconds")
        }),
        Config.withDefault(Duration.seconds(10))
      ),
      stopBudget: yield* Config.duration("SCHEDULER_STOP_BUDGET").pipe(Config.withDefault(Duration.seconds(20))),
      historyRetention: yield* Config.duration("SCHEDULER_HISTORY_RETENTION").pipe(
        Config.withDefault(Duration.days(30))
      ),
      /** Deletes expired and idle auth sessions with their media. */
      authSessionCleanup: yield* schedule("SCHEDULER_AUTH_SESSION_CLEANUP", "every 15 minutes", timeZone),
      /** Expires pending bookings whose hold has passed. */
      bookingHoldExpiry: yield* schedule("SCHEDULER_BOOKING_HOLD_EXPIRY", "every 1 minute", timeZone),
      historyPrune: yield* schedule("SCHEDULER_HISTORY_PRUNE", "0 30 3 * * *", timeZone),
      /** Forgets which subscriber handled which event once it is an hour old. */
      eventsPrune: yield* schedule("SCHEDULER_EVENTS_PRUNE", "every 1 hour", timeZone),
      /** Queues a sync of every external ICS feed (busy times block bookings). */
      calendarSync: yield* schedule("SCHEDULER_CALENDAR_SYNC", "every 15 minutes", timeZone),
      /** Tasks enqueued on their own schedules, one engine job each. */
      periodicTasks: yield* periodicTasks("SCHEDULER_PERIODIC_TASKS"),
      outboxRetention: yield* Config.duration("SCHEDULER_OUTBOX_RETENTION").pipe(Config.withDefault(Duration.days(7))),
      taskRetention: yield* Config.duration("SCHEDULER_TASK_RETENTION").pipe(Config.withDefault(Duration.days(7))),
      /** Which task queues this replica works (comma-separated); unset: all. */
      workQueues: yield* Config.option(Config.array(Config.string(), "SCHEDULER_QUEUES")),
      emailConcurrency: yield* Config.integer("SCHEDULER_EMAIL_CONCURRENCY").pipe(Config.withDefault(4)),
      eventConcurrency: yield* Config.integer("SCHEDULER_EVENT_CONCURRENCY").pipe(Config.withDefault(4))
    } as const
  })
}) {}
