import { JobSchedule } from "@clinic/scheduler-engine"
import { Config, ConfigError, Duration, Effect, Either, Schema } from "effect"
import * as Os from "node:os"
import * as PeriodicTasks from "./PeriodicTasks.js"

const timeZone = Config.string("SCHEDULER_TIME_ZONE").pipe(Config.withDefault("UTC"))

/** A job's schedule from config, in `SCHEDULER_TIME_ZONE`: see `JobSchedule.parse`. */
const schedule = (name: string, fallback: string) =>
  Config.all([timeZone, Config.string(name).pipe(Config.withDefault(fallback))]).pipe(
    Config.mapOrFail(([timeZone, text]) =>
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

const positive = (name: string, fallback: number) =>
  Config.integer(name).pipe(
    Config.validate({ message: `${name} must be at least 1`, validation: (n) => n >= 1 }),
    Config.withDefault(fallback)
  )

/** Every setting of the scheduler app in one `Config.all`, so that every bad variable is reported at once. */
const settings = Config.all({
  timeZone,
  host: Config.string("SCHEDULER_HOST").pipe(Config.withDefault("127.0.0.1")),
  port: Config.port("SCHEDULER_PORT").pipe(Config.withDefault(3001)),
  /** Unset: every admin endpoint but health answers 401 (nothing is exposed by accident). */
  adminToken: Config.option(Config.redacted("SCHEDULER_ADMIN_TOKEN")),
  /** The dashboard's sign-in cookie gets `Secure` (set it when the dashboard is reached over HTTPS). */
  dashboardSecureCookie: Config.boolean("SCHEDULER_DASHBOARD_SECURE_COOKIE").pipe(Config.withDefault(false)),
  replica: Config.string("SCHEDULER_REPLICA_ID").pipe(Config.withDefault(`${Os.hostname()}-${process.pid}`)),
  lease: Config.duration("SCHEDULER_LEASE").pipe(
    Config.validate({
      message: "SCHEDULER_LEASE must be at most 10 seconds",
      validation: (d) => Duration.lessThanOrEqualTo(d, "10 seconds")
    }),
    Config.withDefault(Duration.seconds(6))
  ),
  stopBudget: Config.duration("SCHEDULER_STOP_BUDGET").pipe(Config.withDefault(Duration.seconds(20))),
  historyRetention: Config.duration("SCHEDULER_HISTORY_RETENTION").pipe(Config.withDefault(Duration.days(30))),
  /** Deletes expired and idle auth sessions with their media. */
  authSessionCleanup: schedule("SCHEDULER_AUTH_SESSION_CLEANUP", "every 15 minutes"),
  /** Expires pending bookings whose hold has passed. */
  bookingHoldExpiry: schedule("SCHEDULER_BOOKING_HOLD_EXPIRY", "every 1 minute"),
  historyPrune: schedule("SCHEDULER_HISTORY_PRUNE", "0 30 3 * * *"),
  /** Forgets which subscriber handled which event once it is an hour old. */
  eventsPrune: schedule("SCHEDULER_EVENTS_PRUNE", "every 1 hour"),
  /** Queues a sync of every external ICS feed (busy times block bookings). */
  calendarSync: schedule("SCHEDULER_CALENDAR_SYNC", "every 15 minutes"),
  /** Tasks enqueued on their own schedules, one engine job each. */
  periodicTasks: periodicTasks("SCHEDULER_PERIODIC_TASKS"),
  outboxRetention: Config.duration("SCHEDULER_OUTBOX_RETENTION").pipe(Config.withDefault(Duration.days(7))),
  taskRetention: Config.duration("SCHEDULER_TASK_RETENTION").pipe(Config.withDefault(Duration.days(7))),
  /** Which task queues this replica works (comma-separated); unset: all. */
  workQueues: Config.option(Config.array(Config.string(), "SCHEDULER_QUEUES")),
  emailConcurrency: positive("SCHEDULER_EMAIL_CONCURRENCY", 4),
  eventConcurrency: positive("SCHEDULER_EVENT_CONCURRENCY", 4)
})

/** Every setting of the scheduler app, read in one place; defaults fit the embedded local setup. */
export class SchedulerConfig extends Effect.Service<SchedulerConfig>()("@clinic/scheduler/SchedulerConfig", {
  effect: settings
}) {
  /** For `Settings.layer`, which loads it together with the other config services of the app. */
  static readonly load = Effect.map(settings, (values) => SchedulerConfig.make(values))
}
