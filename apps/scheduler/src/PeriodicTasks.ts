import { Registry, type Task, TaskQueue, TaskStore } from "@clinic/queue"
import { Job, JobSchedule } from "@clinic/scheduler-engine"
import { DateTime, Effect, Either, Schema } from "effect"

/**
 * One entry of `SCHEDULER_PERIODIC_TASKS`: enqueue `task` with `payload` on a schedule, either
 * `cron` (seconds optional, read in `timeZone`, default UTC) or `every` a duration ("15 minutes",
 * aligned to the epoch).
 */
export const PeriodicEntry = Schema.Struct({
  name: Schema.String,
  task: Schema.String,
  cron: Schema.optionalWith(Schema.String, { exact: true }),
  every: Schema.optionalWith(Schema.String, { exact: true }),
  timeZone: Schema.optionalWith(Schema.String, { exact: true }),
  /** The payload as the task's schema encodes it; default `{}`. */
  payload: Schema.optionalWith(Schema.Unknown, { exact: true })
})
export type PeriodicEntry = typeof PeriodicEntry.Type

/** The idempotency key of one tick of an entry: the task is enqueued once per tick, whoever runs it. */
export const tickKey = (entry: string, scheduledAt: DateTime.Utc): string =>
  `periodic:${entry}:${DateTime.formatIso(scheduledAt)}`

/**
 * Each entry as an engine job whose run enqueues the entry's task, due at the tick's time and
 * keyed by it. The engine's claim runs each tick once across replicas, and its missed-run policy
 * (`runOnce`: after downtime the latest missed tick is enqueued once) decides what a stopped
 * scheduler catches up; the key makes a tick run twice (a claim taken over) enqueue once.
 *
 * Every entry is checked (a known task, a payload it accepts, exactly one valid schedule, a name
 * no other job has) and all problems fail start-up together.
 */
export const toJobs = (
  tasks: ReadonlyMap<string, Task.Any>,
  entries: ReadonlyArray<PeriodicEntry>,
  options: { readonly reservedNames?: ReadonlyArray<string> } = {}
): Effect.Effect<ReadonlyArray<Job.Job>, Registry.RegistryError, TaskStore> =>
  Effect.gen(function*() {
    const store = yield* TaskStore
    const problems: Array<string> = []
    const names = new Set<string>()
    const jobs: Array<Job.Job> = []
    for (const entry of entries) {
      const label = `periodic entry "${entry.name}"`
      if (entry.name.trim().length === 0) problems.push("a periodic entry has an empty name")
      if (names.has(entry.name)) problems.push(`${label} is configured twice`)
      if (options.reservedNames?.includes(entry.name)) problems.push(`${label} has the name of a built-in job`)
      names.add(entry.name)
      const task = tasks.get(entry.task)
      const payload = task === undefined
        ? Either.left(`names task "${entry.task}", which is not defined`)
        : Either.mapLeft(
          Schema.decodeUnknownEither(task.payload)(entry.payload ?? {}),
          (e) => `has a payload that task "${task.name}" rejects: ${e.message}`
        )
      if (Either.isLeft(payload)) problems.push(`${label} ${payload.left}`)
      const schedule = scheduleOf(entry)
      if (Either.isLeft(schedule)) problems.push(`${label} ${schedule.left}`)
      if (task === undefined || Either.isLeft(payload) || Either.isLeft(schedule)) continue
      const decoded: unknown = payload.right
      jobs.push(Job.make({
        name: entry.name,
        schedule: schedule.right,
        run: ({ scheduledAt }) =>
          TaskQueue.enqueue(task, decoded, { runAt: scheduledAt, idempotencyKey: tickKey(entry.name, scheduledAt) })
            .pipe(
              Effect.map(({ id, inserted }) => ({ task: task.name, taskId: id, inserted })),
              Effect.provideService(TaskStore, store)
            ),
        timeout: "30 seconds",
        missed: "runOnce"
      }))
    }
    if (problems.length > 0) return yield* new Registry.RegistryError({ problems })
    return jobs
  })

const scheduleOf = (entry: PeriodicEntry): Either.Either<JobSchedule.JobSchedule, string> => {
  if ((entry.cron === undefined) === (entry.every === undefined)) {
    return Either.left("needs exactly one of cron or every")
  }
  return entry.cron !== undefined
    ? Either.mapLeft(
      JobSchedule.cron(entry.cron, entry.timeZone ?? "UTC"),
      (e) => `has an invalid cron "${entry.cron}": ${e.message}`
    )
    : Either.mapLeft(
      JobSchedule.parse(`every ${entry.every}`),
      (e) => `has an invalid every "${entry.every}": ${e.message}`
    )
}
