import { JobSchedule } from "@clinic/scheduler-engine"
import { Config, ConfigError, Duration, Effect, Either, Option, Schema } from "effect"
import * as Os from "node:os"

/**
 * A job's schedule from config: `every <duration>` (aligned to the wall clock: "every 15 minutes")
 * or a cron expression with an optional seconds field ("0 30 3 * * *"), in `SCHEDULER_TIME_ZONE`.
 */
const timeZone = Config.string("SCHEDULER_TIME_ZONE").pipe(Config.withDefault("UTC"))

const schedule = (name: string, fallback: string) =>
  Config.all([timeZone, Config.string(name).pipe(Config.withDefault(fallback))]).pipe(
    Config.mapOrFail(([timeZone, text]) => {
      const every = /^every\s+(.+)$/i.exec(text.trim())
      if (every) {
        const interval = Duration.decodeUnknown(every[1])
        return Option.isSome(interval) && Duration.toMillis(interval.value) >= 1000
          ? Either.right(JobSchedule.every(interval.value))
          : Either.left(ConfigError.InvalidData([name], `"${text}": expected "every <duration>" of at least 1 second`))
      }
      return Either.mapLeft(JobSchedule.cron(text, timeZone), (e) => ConfigError.InvalidData([name], e.message))
    })
  )

/** A periodic task entry ("beat"); checked against the task registry at start-up. */
const PeriodicEntry = Schema.Struct({
  name: Schema.String,
  task: Schema.String,
  cron: Schema.optionalWith(Schema.String, { exact: true }),
  every: Schema.optionalWith(
    Schema.String.pipe(
      Schema.filter((text) => Option.isSome(Duration.decodeUnknown(text)), {
        message: (issue) => `"${issue.actual}" is not a duration (e.g. "15 minutes")`
      })
    ),
    { exact: true }
  ),
  timeZone: Schema.optionalWith(Schema.String, { exact: true }),
  payload: Schema.optionalWith(Schema.Unknown, { exact: true })
})

const DEFAULT_PERIODIC = JSON.stringify([{
  name: "nightly-maintenance",
  task: "maintenance.prune",
  cron: "15 4 * * *"
}])

/** `SCHEDULER_PERIODIC_TASKS`: a JSON array of `{ name, task, cron | every, timeZone?, payload? }`. */
const periodicTasks = (name: string) =>
  Config.string(name).pipe(
    Config.withDefault(DEFAULT_PERIODIC),
    Config.mapOrFail((text) =>
      Either.mapLeft(
        Schema.decodeUnknownEither(Schema.parseJson(Schema.Array(PeriodicEntry)))(text),
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
  replica: Config.string("SCHEDULER_REPLICA_ID").pipe(Config.withDefault(`${Os.hostname()}-${process.pid}`)),
  lease: Config.duration("SCHEDULER_LEASE").pipe(
    Config.validate({
      message: "SCHEDULER_LEASE must be at most 10 seconds",
      validation: (d) => Duration.lessThanOrEqualTo(d, "10 seconds")
    }),
    Config.withDefault(Duration.seconds(10))
  ),
  stopBudget: Config.duration("SCHEDULER_STOP_BUDGET").pipe(Config.withDefault(Duration.seconds(20))),
  historyRetention: Config.duration("SCHEDULER_HISTORY_RETENTION").pipe(Config.withDefault(Duration.days(30))),
  sessionCleanup: schedule("SCHEDULER_SESSION_CLEANUP", "every 15 minutes"),
  bookingExpiry: schedule("SCHEDULER_BOOKING_EXPIRY", "every 1 minute"),
  historyPrune: schedule("SCHEDULER_HISTORY_PRUNE", "0 30 3 * * *"),
  /** Forgets which subscriber handled which event once it is an hour old. */
  eventsPrune: schedule("SCHEDULER_EVENTS_PRUNE", "every 1 hour"),
  /** Imports therapists' external ICS feeds, whose busy times block bookings. */
  calendarSync: schedule("SCHEDULER_CALENDAR_SYNC", "every 15 minutes"),
  /** How often periodic tasks are looked at; their own schedules come from `periodicTasks`. */
  beat: schedule("SCHEDULER_BEAT", "every 1 minute"),
  /** After a restart, the beat enqueues the latest occurrence it missed within this window. */
  beatCatchUp: Config.duration("SCHEDULER_BEAT_CATCH_UP").pipe(Config.withDefault(Duration.days(1))),
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
