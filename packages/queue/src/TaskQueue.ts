import { TraceParent } from "@clinic/telemetry"
import type { Duration } from "effect"
import { DateTime, Effect, Metric, type Option, Schema } from "effect"
import * as Metrics from "./Metrics.js"
import type * as Task from "./Task.js"
import { type NewTask, type TaskId, type TaskRow, TaskStore } from "./TaskStore.js"

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

/** One task of an `enqueueMany` batch: its payload and, optionally, the options of `enqueue`. */
export interface EnqueueItem<A> extends EnqueueOptions {
  readonly payload: A
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
  Effect.map(add(task, [{ ...options, payload }]), (results) => results[0]).pipe(
    Effect.withSpan("TaskQueue.enqueue", { attributes: { task: task.name } })
  )

/**
 * Adds many runs of `task` in one statement (one notification per queue), results in input order.
 * Idempotency keys hold within the batch (the first task with a key wins) and against existing
 * tasks. Like `enqueue`, it joins the caller's transaction.
 */
export const enqueueMany = <Name extends string, A, I, E, R>(
  task: Task.Task<Name, A, I, E, R>,
  items: Iterable<EnqueueItem<A>>
): Effect.Effect<ReadonlyArray<Enqueued>, never, TaskStore> =>
  add(task, Array.from(items)).pipe(
    Effect.withSpan("TaskQueue.enqueueMany", { attributes: { task: task.name } })
  )

const add = <Name extends string, A, I, E, R>(
  task: Task.Task<Name, A, I, E, R>,
  items: ReadonlyArray<EnqueueItem<A>>
): Effect.Effect<ReadonlyArray<Enqueued>, never, TaskStore> =>
  Effect.gen(function*() {
    if (items.length === 0) return []
    const store = yield* TaskStore
    const now = yield* DateTime.now
    // The enqueuing span: each run of these tasks continues its trace.
    const traceParent = yield* TraceParent.current
    // One encode for the batch: an effect per payload cost more than the rest of the client's work.
    // A payload of the task's own type that does not encode is a programming error.
    const payloads = yield* Schema.encode(Schema.Array(task.payload))(items.map((item) => item.payload)).pipe(
      Effect.orDie
    )
    const tasks: Array<NewTask> = []
    for (const [i, item] of items.entries()) {
      tasks.push({
        name: task.name,
        queue: task.queue,
        payload: payloads[i],
        priority: item.priority ?? task.priority,
        maxAttempts: task.maxAttempts,
        runAt: item.runAt ?? (item.delay !== undefined ? DateTime.addDuration(now, item.delay) : now),
        idempotencyKey: item.idempotencyKey ?? null,
        now,
        traceParent
      })
    }
    const results = yield* store.insert(tasks)
    const inserted = results.filter((result) => result.inserted).length
    if (inserted > 0) {
      yield* Metric.incrementBy(Metrics.tagged(Metrics.enqueued, { task: task.name, queue: task.queue }), inserted)
    }
    return results
  })

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
