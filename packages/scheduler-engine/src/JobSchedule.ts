import { Cron, Data, DateTime, Duration, Either, Option } from "effect"
import * as CronNext from "./CronNext.js"

/**
 * When a job fires: a cron expression (seconds field optional) in a time zone, or every N aligned
 * to the epoch. The one schedule type of Clinic: job settings and periodic tasks alike.
 */
export type JobSchedule = Data.TaggedEnum<{
  Cron: { readonly cron: Cron.Cron; readonly expression: string; readonly timeZone: string }
  Every: { readonly interval: Duration.Duration }
}>
export const JobSchedule = Data.taggedEnum<JobSchedule>()

export class InvalidSchedule extends Data.TaggedError("InvalidSchedule")<{ readonly message: string }> {}

/** Parses `expression` (5 or 6 fields; 6 starts with seconds) for `timeZone` (IANA name, default UTC). */
export const cron = (expression: string, timeZone = "UTC"): Either.Either<JobSchedule, InvalidSchedule> =>
  Cron.parse(expression, timeZone).pipe(
    Either.map((parsed) => JobSchedule.Cron({ cron: parsed, expression, timeZone })),
    Either.mapLeft((error) => new InvalidSchedule({ message: `${expression} (${timeZone}): ${error.message}` }))
  )

export const unsafeCron = (expression: string, timeZone = "UTC"): JobSchedule =>
  Either.getOrThrow(cron(expression, timeZone))

/**
 * Every `interval`, at multiples of it since the epoch: every 15 minutes fires at :00, :15, :30 and
 * :45 whenever the process started, so replicas agree on the ticks without talking to each other.
 */
export const every = (interval: Duration.DurationInput): JobSchedule => {
  const decoded = Duration.decode(interval)
  if (Duration.toMillis(decoded) < 1) throw new InvalidSchedule({ message: "an interval must be at least 1 ms" })
  return JobSchedule.Every({ interval: decoded })
}

/**
 * A schedule as settings write it: `every <duration>` ("every 15 minutes", at least a second,
 * aligned to the epoch, so `timeZone` does not move it) or a cron expression with an optional
 * seconds field ("0 30 3 * * *") read in `timeZone`.
 */
export const parse = (text: string, timeZone = "UTC"): Either.Either<JobSchedule, InvalidSchedule> => {
  const trimmed = text.trim()
  const every = /^every\s+(.+)$/i.exec(trimmed)
  if (every === null) return cron(trimmed, timeZone)
  const interval = Duration.decodeUnknown(every[1].trim())
  return Option.isSome(interval) && Duration.toMillis(interval.value) >= 1000
    ? Either.right(JobSchedule.Every({ interval: interval.value }))
    : Either.left(new InvalidSchedule({ message: `"${text}": expected "every <duration>" of at least 1 second` }))
}

/** The first fire time strictly after `afterMillis`. */
export const nextAfter = (schedule: JobSchedule, afterMillis: number): number =>
  JobSchedule.$match(schedule, {
    // Cron works in whole seconds: the next time after the current second, across clock changes.
    Cron: ({ cron }) => CronNext.nextAfter(cron, afterMillis),
    Every: ({ interval }) => {
      const step = Duration.toMillis(interval)
      return (Math.floor(afterMillis / step) + 1) * step
    }
  })

/** Up to `limit` fire times after `afterMillis` and at or before `untilMillis`, in order. */
export const fireTimesBetween = (
  schedule: JobSchedule,
  afterMillis: number,
  untilMillis: number,
  limit: number
): Array<number> => {
  const times: Array<number> = []
  let cursor = afterMillis
  while (times.length < limit) {
    const next = nextAfter(schedule, cursor)
    if (next > untilMillis) break
    times.push(next)
    cursor = next
  }
  return times
}

export const nextN = (schedule: JobSchedule, afterMillis: number, n: number): Array<DateTime.Utc> => {
  const times: Array<DateTime.Utc> = []
  let cursor = afterMillis
  for (let i = 0; i < n; i++) {
    cursor = nextAfter(schedule, cursor)
    times.push(DateTime.unsafeMake(cursor))
  }
  return times
}

export const describe = (schedule: JobSchedule): string =>
  JobSchedule.$match(schedule, {
    Cron: ({ expression, timeZone }) => `cron ${expression} (${timeZone})`,
    Every: ({ interval }) => `every ${Duration.format(interval)}`
  })
