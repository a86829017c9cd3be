import type { Duration } from "effect"
import { DateTime, Effect, Metric, type Option, Schema } from "effect"
import * as Metrics from "./Metrics.js"
import type * as Task from "./Task.js"
import { type TaskId, type TaskRow, TaskStore } from "./TaskStore.js"

export interface EnqueueOptions {
  /** When the task becomes due; default now. */
  readonly runAt?: DateTime.Utc
  /** Alternatively, how long from now. */
  readonly delay?: Duration.DurationInput
  /** A second enqueue with the same key returns the first task instead of adding one. */
  readonly idempotencyKey?: string
  /** Overrides the task's default priority. */
  readonly priority?: number
}

export interface Enqueued {
  readonly id: TaskId
  /** False when the idempotency key had been used already. */
  readonly inserted: boolean
}

/**
 * Adds a run of `task`. On Postgres it writes through the ambient `SqlClient`, so inside
 * `sql.withTransaction` the task exists only if the caller's transaction commits.
 */
export const enqueue = <Name extends string, A, I, E, R>(
  task: Task.Task<Name, A, I, E, R>,
  payload: A,
  options: EnqueueOptions = {}
): Effect.Effect<Enqueued, never, TaskStore> =>
  Effect.gen(function*() {
    const store = yield* TaskStore
    // A payload of the task's own type that does not encode is a programming error.
    const encoded = yield* Schema.encode(task.payload)(payload).pipe(Effect.orDie)
    const now = yield* DateTime.now
    const runAt = options.runAt ?? (options.delay !== undefined ? DateTime.addDuration(now, options.delay) : now)
    const result = yield* store.insert({
      name: task.name,
      queue: task.queue,
      payload: encoded,
      priority: options.priority ?? task.priority,
      maxAttempts: task.maxAttempts,
      runAt,
      idempotencyKey: options.idempotencyKey ?? null,
      now
    })
    if (result.inserted) {
      yield* Metric.increment(Metrics.tagged(Metrics.enqueued, { task: task.name, queue: task.queue }))
    }
    return result
  }).pipe(Effect.withSpan("TaskQueue.enqueue", { attributes: { task: task.name } }))

/** Gives a dead task a fresh set of attempts, due now (or at `runAt`). False if it is not dead. */
export const requeue = (id: TaskId, options: { readonly runAt?: DateTime.Utc } = {}) =>
  Effect.gen(function*() {
    const store = yield* TaskStore
    const now = yield* DateTime.now
    return yield* store.requeue(id, { now, runAt: options.runAt ?? now })
  })

export const get = (id: TaskId): Effect.Effect<Option.Option<TaskRow>, never, TaskStore> =>
  Effect.flatMap(TaskStore, (store) => store.get(id))

/** Deletes succeeded and dead tasks that finished longer than `retention` ago (maintenance). */
export const prune = (retention: Duration.DurationInput) =>
  Effect.gen(function*() {
    const store = yield* TaskStore
    const now = yield* DateTime.now
    return yield* store.prune(DateTime.subtractDuration(now, retention))
  })
