import { BackgroundLoop } from "@clinic/foundation"
import type { Scope } from "effect"
import {
  Cause,
  Context,
  DateTime,
  Duration,
  Effect,
  Exit,
  Layer,
  Metric,
  Option,
  Queue,
  Ref,
  Schedule,
  Schema
} from "effect"
import * as Backoff from "./Backoff.js"
import * as Metrics from "./Metrics.js"
import type { Registry, ResolvedQueue } from "./Registry.js"
import type * as Task from "./Task.js"
import { type TaskRow, TaskStore } from "./TaskStore.js"

export class TaskTimeout extends Schema.TaggedError<TaskTimeout>()("TaskTimeout", {
  task: Schema.String,
  timeout: Schema.String
}) {
  override get message() {
    return `task "${this.task}" ran longer than ${this.timeout}`
  }
}

export type Outcome = "succeeded" | "retried" | "dead" | "released"

/** What happened to one claimed task. */
export interface RunResult {
  readonly id: TaskRow["id"]
  readonly name: string
  readonly attempt: number
  readonly outcome: Outcome
  readonly error: Option.Option<string>
  readonly retryAt: Option.Option<DateTime.Utc>
}

/** Called around each run; a failing hook is logged and never changes the task's outcome. */
export interface Hooks {
  readonly before?: (context: Task.TaskContext) => Effect.Effect<void>
  readonly after?: (context: Task.TaskContext, duration: Duration.Duration) => Effect.Effect<void>
  readonly onFailure?: (
    context: Task.TaskContext,
    failure: { readonly cause: Cause.Cause<unknown>; readonly retryAt: Option.Option<DateTime.Utc> }
  ) => Effect.Effect<void>
}

export interface WorkerOptions {
  /** Which configured queues this process works; default all. */
  readonly queues?: ReadonlyArray<string>
  readonly hooks?: Hooks
  /** How long `stop` (and the layer's release) waits for running tasks before handing them back. */
  readonly shutdownBudget?: Duration.DurationInput
  /** How often the queue-depth gauge is refreshed. */
  readonly depthInterval?: Duration.DurationInput
}

export interface WorkerStatus {
  readonly state: BackgroundLoop.State
  /** Whether enqueue notifications reach this worker; without them it finds work by polling. */
  readonly listening: boolean
  readonly queues: ReadonlyArray<{ readonly name: string; readonly concurrency: number; readonly inFlight: number }>
  readonly outcomes: Readonly<Record<Outcome, number>>
}

export interface TaskWorkerShape {
  readonly status: Effect.Effect<WorkerStatus>
  /**
   * Stops claiming, waits up to `budget` (default: the configured shutdown budget) for running
   * tasks, then interrupts the rest, which hands their tasks back. Idempotent.
   */
  readonly stop: (budget?: Duration.DurationInput) => Effect.Effect<void>
  /** Wakes idle workers of a queue now instead of at their next poll. */
  readonly wake: (queue: string) => Effect.Effect<void>
}

export class TaskWorker extends Context.Tag("@clinic/queue/TaskWorker")<TaskWorker, TaskWorkerShape>() {}

const UNKNOWN_TASK_DELAY = Duration.minutes(1)
const MAX_BACKOFF = Duration.seconds(30)

const describeCause = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.failureOption(cause)
  const text = Option.isSome(failure) && failure.value instanceof Error
    ? `${failure.value.name}: ${failure.value.message}`
    : Cause.pretty(cause)
  return text.length > 2000 ? text.slice(0, 2000) + "…" : text
}

const runHook = (hook: Effect.Effect<void> | undefined, name: string) =>
  hook === undefined ?
    Effect.void :
    Effect.catchAllCause(hook, (cause) => Effect.logWarning(`task hook ${name} failed`, cause))

/**
 * Runs a task that this worker holds under `leaseId`: decodes the payload, runs the handler under
 * its timeout while renewing the lease, and records the outcome. Interruption (shutdown) hands the
 * task back.
 */
const execute = <R>(
  registry: Registry<R>,
  queue: ResolvedQueue,
  row: TaskRow,
  leaseId: string,
  hooks: Hooks
): Effect.Effect<RunResult, never, TaskStore | R> =>
  Effect.gen(function*() {
    const store = yield* TaskStore
    const context: Task.TaskContext = {
      id: row.id,
      name: row.name,
      queue: row.queue,
      attempt: row.attempts,
      maxAttempts: row.maxAttempts
    }
    const result = (outcome: Outcome, error: Option.Option<string>, retryAt = Option.none<DateTime.Utc>()) => {
      const tagged = Metrics.tagged(Metrics.runs, { task: row.name, queue: row.queue, outcome })
      return Effect.as(Metric.increment(tagged), {
        id: row.id,
        name: row.name,
        attempt: row.attempts,
        outcome,
        error,
        retryAt
      })
    }
    const bury = (error: string) =>
      Effect.flatMap(DateTime.now, (now) => store.bury(row.id, leaseId, { now, error })).pipe(
        Effect.zipRight(result("dead", Option.some(error)))
      )

    const task = registry.tasks.get(row.name)
    if (!task) {
      // During a rolling deploy an older worker may meet a task only newer code defines: hand it
      // back for later instead of burying work that another worker can do.
      const now = yield* DateTime.now
      yield* store.release(row.id, leaseId, now, DateTime.addDuration(now, UNKNOWN_TASK_DELAY))
      yield* Effect.logWarning("claimed a task this worker does not define; handed back")
      return yield* result("released", Option.some(`no task named "${row.name}" is registered here`))
    }
    const decoded = yield* Effect.either(Schema.decodeUnknown(task.payload)(row.payload))
    // A payload the schema rejects will never succeed: retrying would only delay the alarm.
    if (decoded._tag === "Left") return yield* bury(`invalid payload: ${decoded.left.message}`)

    const renew = Effect.flatMap(
      DateTime.now,
      (now) => store.extendLease(row.id, leaseId, DateTime.addDuration(now, queue.lease))
    ).pipe(
      Effect.tap((held) => held ? Effect.void : Effect.logWarning("lease lost while running")),
      Effect.repeat(Schedule.spaced(Duration.divide(queue.lease, 3).pipe(Option.getOrElse(() => queue.lease)))),
      Effect.delay(Duration.divide(queue.lease, 3).pipe(Option.getOrElse(() => queue.lease)))
    )

    yield* runHook(hooks.before?.(context), "before")
    const started = yield* DateTime.now
    const exit = yield* Effect.scoped(
      Effect.zipRight(
        Effect.forkScoped(renew),
        task.handler(decoded.right, context).pipe(
          Effect.timeoutFail({
            duration: task.timeout,
            onTimeout: () => new TaskTimeout({ task: task.name, timeout: Duration.format(task.timeout) })
          })
        )
      )
    ).pipe(Effect.exit)
    const now = yield* DateTime.now
    const elapsed = Duration.millis(DateTime.distance(started, now))
    yield* Metric.update(
      Metrics.tagged(Metrics.duration, { task: row.name, queue: row.queue }),
      Duration.toMillis(elapsed) / 1000
    )

    if (Exit.isSuccess(exit)) {
      yield* store.complete(row.id, leaseId, now)
      yield* runHook(hooks.after?.(context, elapsed), "after")
      return yield* result("succeeded", Option.none())
    }
    const error = describeCause(exit.cause)
    if (row.attempts >= row.maxAttempts) {
      yield* runHook(hooks.onFailure?.(context, { cause: exit.cause, retryAt: Option.none() }), "onFailure")
      yield* Effect.logWarning("task failed on its last attempt; it is dead").pipe(
        Effect.annotateLogs({ error })
      )
      return yield* bury(error)
    }
    const retryAt = DateTime.addDuration(now, yield* Backoff.delay(task.backoff, row.attempts))
    yield* store.retry(row.id, leaseId, { now, runAt: retryAt, error })
    yield* runHook(hooks.onFailure?.(context, { cause: exit.cause, retryAt: Option.some(retryAt) }), "onFailure")
    return yield* result("retried", Option.some(error), Option.some(retryAt))
  }).pipe(
    Effect.annotateLogs({ task: row.name, taskId: row.id, attempt: row.attempts }),
    Effect.withSpan("TaskWorker.execute", { attributes: { task: row.name, attempt: row.attempts } })
  )

/**
 * Claims one due task of `queue` and runs it; `None` when nothing is due. Claiming cannot be
 * interrupted halfway (a claim the worker never saw would sit out its lease); once claimed, an
 * interruption hands the task back.
 */
export const runOne = <R>(
  registry: Registry<R>,
  queueName: string,
  options: { readonly hooks?: Hooks } = {}
): Effect.Effect<Option.Option<RunResult>, never, TaskStore | R> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const store = yield* TaskStore
      const queue = registry.queues.get(queueName)
      if (!queue) return yield* Effect.dieMessage(`queue "${queueName}" is not configured`)
      const now = yield* DateTime.now
      const leaseId = crypto.randomUUID()
      const claimed = yield* store.claim(queueName, { leaseId, now, until: DateTime.addDuration(now, queue.lease) })
      if (Option.isNone(claimed)) return Option.none()
      const row = claimed.value
      const run = yield* restore(execute(registry, queue, row, leaseId, options.hooks ?? {})).pipe(
        Effect.onInterrupt(() =>
          Effect.flatMap(DateTime.now, (at) => store.release(row.id, leaseId, at)).pipe(
            Effect.zipRight(Metric.increment(
              Metrics.tagged(Metrics.runs, { task: row.name, queue: row.queue, outcome: "released" })
            ))
          )
        )
      )
      return Option.some(run)
    })
  )

/** Runs due tasks of `queue` one after another until none is due; what tests and scripts use. */
export const drain = <R>(
  registry: Registry<R>,
  queueName: string,
  options: { readonly hooks?: Hooks } = {}
): Effect.Effect<ReadonlyArray<RunResult>, never, TaskStore | R> =>
  Effect.gen(function*() {
    const results: Array<RunResult> = []
    while (true) {
      const next = yield* runOne(registry, queueName, options)
      if (Option.isNone(next)) return results
      results.push(next.value)
    }
  })

/**
 * Starts `concurrency` workers per queue in the current scope. Each claims a task, runs it, and
 * claims again; when nothing is due it waits for the poll interval or a wake-up (an enqueue in
 * this process, or a Postgres notification). Closing the scope stops it gracefully.
 */
export const make = <R>(
  registry: Registry<R>,
  options: WorkerOptions = {}
): Effect.Effect<TaskWorkerShape, never, TaskStore | R | Scope.Scope> =>
  Effect.gen(function*() {
    const store = yield* TaskStore
    const budget = Duration.decode(options.shutdownBudget ?? "10 seconds")
    const names = options.queues ?? [...registry.queues.keys()]
    const queues = names.map((name) => {
      const queue = registry.queues.get(name)
      if (!queue) throw new Error(`queue "${name}" is not configured`)
      return queue
    })
    const inFlight = yield* Ref.make<ReadonlyMap<string, number>>(new Map())
    const outcomes = yield* Ref.make<Record<Outcome, number>>({ succeeded: 0, retried: 0, dead: 0, released: 0 })
    const wakers = new Map<string, Queue.Queue<void>>()
    for (const queue of queues) wakers.set(queue.name, yield* Queue.sliding<void>(queue.concurrency))

    const wake = (queue: string) => {
      const waker = wakers.get(queue)
      if (!waker) return Effect.void
      return Effect.asVoid(waker.offerAll(Array.from({ length: waker.capacity() }, () => undefined)))
    }
    const count = (queue: string, delta: number) =>
      Ref.update(inFlight, (map) => new Map(map).set(queue, (map.get(queue) ?? 0) + delta))

    /** One slot: claim and run a task, again at once after a run, else wait a poll interval or a wake-up. */
    const slot = (queue: ResolvedQueue): BackgroundLoop.Iteration<TaskStore | R> => ({
      run: Effect.acquireUseRelease(
        count(queue.name, 1),
        () => runOne(registry, queue.name, options.hooks ? { hooks: options.hooks } : {}),
        () => count(queue.name, -1)
      ).pipe(
        Effect.tap((ran) =>
          Option.isSome(ran)
            ? Ref.update(outcomes, (o) => ({ ...o, [ran.value.outcome]: o[ran.value.outcome] + 1 }))
            : Effect.void
        ),
        Effect.map(Option.isSome)
      ),
      idle: Effect.raceFirst(Effect.sleep(queue.pollInterval), wakers.get(queue.name)!.take),
      // A database outage must not kill the worker: the first retry after a poll interval, then slower.
      backoff: { initial: queue.pollInterval, max: Duration.max(queue.pollInterval, MAX_BACKOFF) },
      annotations: { queue: queue.name }
    })

    const loop = yield* BackgroundLoop.make({
      name: "TaskWorker",
      drainBudget: budget,
      iterations: Effect.succeed(
        queues.flatMap((queue) => Array.from({ length: queue.concurrency }, () => slot(queue)))
      )
    })
    yield* loop.start

    // Wake-ups from enqueues anywhere; while they are lost, polling still finds the work.
    const listening = yield* BackgroundLoop.listen({
      name: "TaskWorker",
      notifications: store.notifications,
      ping: store.ping,
      onNotification: wake
    })
    yield* Effect.gen(function*() {
      const now = yield* DateTime.now
      for (const depth of yield* store.depth(now)) {
        for (const key of ["ready", "scheduled", "running", "dead"] as const) {
          yield* Metric.set(Metrics.tagged(Metrics.depth, { queue: depth.queue, state: key }), depth[key])
        }
      }
    }).pipe(
      Effect.catchAllCause((cause) => Effect.logWarning("queue depth sampling failed", cause)),
      Effect.schedule(Schedule.spaced(options.depthInterval ?? "15 seconds")),
      Effect.forkScoped
    )

    return {
      status: Effect.gen(function*() {
        const counts = yield* Ref.get(inFlight)
        return {
          state: yield* loop.state,
          listening: yield* listening,
          queues: queues.map((q) => ({ name: q.name, concurrency: q.concurrency, inFlight: counts.get(q.name) ?? 0 })),
          outcomes: yield* Ref.get(outcomes)
        }
      }),
      stop: (within) => Effect.asVoid(loop.stop(within)),
      wake
    }
  })

/** The worker as a service, running for the life of the layer. */
export const layer = <R>(
  registry: Registry<R>,
  options: WorkerOptions = {}
): Layer.Layer<TaskWorker, never, TaskStore | R> => Layer.scoped(TaskWorker, make(registry, options))
