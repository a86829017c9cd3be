import { Cron, DateTime, Duration, Effect, Option, Schema } from "effect"
import type { Registry, ResolvedPeriodic, Schedule } from "./Registry.js"
import * as TaskQueue from "./TaskQueue.js"
import type { TaskId, TaskStore } from "./TaskStore.js"

/**
 * The latest occurrence of `schedule` in (`after`, `upTo`], if any. Intervals are anchored at the
 * Unix epoch, so every replica computes the same instants.
 */
export const latestOccurrence = (
  schedule: Schedule,
  after: DateTime.Utc,
  upTo: DateTime.Utc
): Option.Option<DateTime.Utc> => {
  let latest: number
  if (schedule._tag === "Every") {
    const interval = Duration.toMillis(schedule.interval)
    latest = Math.floor(upTo.epochMillis / interval) * interval
  } else {
    // `prev` works in whole seconds and strictly before its argument: start a second later so an
    // occurrence at `upTo` counts, then step back once if that overshot.
    latest = Cron.prev(schedule.cron, new Date(upTo.epochMillis + 1000)).getTime()
    if (latest > upTo.epochMillis) latest = Cron.prev(schedule.cron, new Date(latest)).getTime()
  }
  return latest > after.epochMillis ? Option.some(DateTime.unsafeMake(latest)) : Option.none()
}

export interface Enqueued {
  readonly entry: string
  readonly at: DateTime.Utc
  readonly id: TaskId
  /** False when this occurrence had been enqueued already (by another replica or an earlier tick). */
  readonly inserted: boolean
}

/**
 * What the scheduler calls on each tick with the previous tick's time: enqueues, per periodic
 * entry, its latest occurrence since then. Missed occurrences (the scheduler was down) collapse
 * into one run. The idempotency key names the entry and the instant, so replicas ticking at once
 * enqueue each occurrence once.
 */
export const enqueueDue = <R>(
  registry: Registry<R>,
  after: DateTime.Utc,
  upTo: DateTime.Utc
): Effect.Effect<ReadonlyArray<Enqueued>, never, TaskStore> =>
  Effect.forEach(registry.periodic, (entry) => enqueueEntry(entry, after, upTo)).pipe(
    Effect.map((all) => all.flatMap(Option.toArray)),
    Effect.withSpan("Beat.enqueueDue")
  )

const enqueueEntry = (entry: ResolvedPeriodic, after: DateTime.Utc, upTo: DateTime.Utc) =>
  Option.match(latestOccurrence(entry.schedule, after, upTo), {
    onNone: () => Effect.succeed(Option.none<Enqueued>()),
    onSome: (at) =>
      Effect.gen(function*() {
        // Checked against the schema when the registry was built.
        const payload = yield* Schema.decodeUnknown(entry.task.payload)(entry.payload).pipe(Effect.orDie)
        const { id, inserted } = yield* TaskQueue.enqueue(entry.task, payload, {
          runAt: at,
          idempotencyKey: `periodic:${entry.name}:${DateTime.formatIso(at)}`
        })
        return Option.some({ entry: entry.name, at, id, inserted })
      })
  })
