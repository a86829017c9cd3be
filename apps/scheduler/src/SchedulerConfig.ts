import { JobSchedule } from "@clinic/scheduler-engine"
import { Config, ConfigError, Duration, Effect, Either, Option } from "effect"
import * as Os from "node:os"

/**
 * A job's schedule from config: `every <duration>` (aligned to the wall clock: "every 15 minutes")
 * or a cron expression with an optional seconds field ("0 30 3 * * *"), in `SCHEDULER_TIME_ZONE`.
 */
const schedule = (name: string, fallback: string, timeZone: string) =>
  Config.string(name).pipe(
    Config.withDefault(fallback),
    Config.mapOrFail((text) => {
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
      sessionCleanup: yield* schedule("SCHEDULER_SESSION_CLEANUP", "every 15 minutes", timeZone),
      bookingExpiry: yield* schedule("SCHEDULER_BOOKING_EXPIRY", "every 1 minute", timeZone),
      historyPrune: yield* schedule("SCHEDULER_HISTORY_PRUNE", "0 30 3 * * *", timeZone)
    } as const
  })
}) {}
