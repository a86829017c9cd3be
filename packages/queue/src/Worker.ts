import { BackgroundLoop, OutageLog, withMethodSpans } from "@clinic/foundation"
import { TraceParent } from "@clinic/telemetry"
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
  Schedule,
  Schema
} from "effect"
import * as Backoff from "./Backoff.js"
import * as Metrics from "./Metrics.js"
import type { Registry, ResolvedQueue } from "./Registry.js"
import type * as Task from "./Task.js"
import { type Held, type TaskRow, TaskStore, type TaskStoreShape } from "./TaskStore.js"
import * as Watchdog from "./Watchdog.js"

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
  /**
   * Most tasks one claim takes for a queue, into a buffer its slots share; default
   * max(4 x concurrency, 64): a backlog of short tasks is claimed in few round trips (at concurrency
   * 8, claims of 64 instead of 16 drained 20,000 no-op tasks 40-50% faster). A buffered task not
   * started within min(poll interval, lease / 3) of its claim is handed back, and the next claims
   * ask for less, so a slow queue does not hold work that another process could run.
   */
  readonly claimBatch?: number
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
  hooks: Hooks,
  watchdog: Watchdog.Watchdog,
  complete: (held: Held, now: DateTime.Utc) => Effect.Effect<void>
): Effect.Effect<RunResult, never, TaskStore | R> => {
  const annotations = { task: row.name, taskId: row.id, attempt: row.attempts }
  return Effect.gen(function*() {
    const store = yield* TaskStore
    const context: Task.TaskContext = {
      id: row.id,
      name: row.name,
      queue: row.queue,
      attempt: row.attempts,
      maxAttempts: row.maxAttempts
    }
    const result = (outcome: Outcome, error: Option.Option<string>, retryAt = Option.none<DateTime.Utc>()) => {
      return Effect.as(Metric.increment(runsMetric(row.name, row.queue, outcome)), {
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
      // A renewal that fails (a lost database) must not end the renewals: the next one may get through
      // before the lease lapses.
      Effect.catchAllCause((cause) => Effect.logWarning("lease not renewed; retrying", cause)),
      // It runs on the watchdog's fiber, which has none of the run's annotations.
      Effect.annotateLogs(annotations)
    )

    yield* runHook(hooks.before?.(context), "before")
    const started = yield* DateTime.now
    const exit = yield* watchdog.watch(task.handler(decoded.right, context), {
      timeout: task.timeout,
      renewEvery: Duration.millis(Duration.toMillis(queue.lease) / 3),
      renew,
      onTimeout: () => new TaskTimeout({ task: task.name, timeout: Duration.format(task.timeout) })
    })
    const now = yield* DateTime.now
    const elapsed = Duration.millis(DateTime.distance(started, now))
    yield* Metric.update(durationMetric(row.name, row.queue), Duration.toMillis(elapsed) / 1000)

    if (Exit.isSuccess(exit)) {
      yield* complete({ id: row.id, leaseId }, now)
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
    Effect.annotateLogs(annotations),
    // A child of the span that enqueued the task, in whichever process that ran.
    Effect.withSpan("TaskWorker.execute", {
      ...TraceParent.childOf(row.traceParent),
      // One per run: the call site would be this line every time, and capturing it costs an Error.
      captureStackTrace: false,
      attributes: { task: row.name, queue: row.queue, attempt: row.attempts }
    })
  )
}

// Tagged metrics are looked up per run: built once per task, queue and outcome instead.
const metricCache = new Map<string, Metric.Metric.Counter<number>>()
const runsMetric = (task: string, queue: string, outcome: Outcome) => {
  const key = `${task}\u0000${queue}\u0000${outcome}`
  let metric = metricCache.get(key)
  if (metric === undefined) {
    metric = Metrics.tagged(Metrics.runs, { task, queue, outcome })
    metricCache.set(key, metric)
  }
  return metric
}
const durationCache = new Map<string, typeof Metrics.duration>()
const durationMetric = (task: string, queue: string) => {
  const key = `${task}\u0000${queue}`
  let metric = durationCache.get(key)
  if (metric === undefined) {
    metric = Metrics.tagged(Metrics.duration, { task, queue })
    durationCache.set(key, metric)
  }
  return metric
}

/** An interrupted run (shutdown) gives its task back: pending, attempt not counted. */
const handBackRun = (store: TaskStoreShape, row: TaskRow, leaseId: string) =>
  Effect.flatMap(DateTime.now, (at) => store.release(row.id, leaseId, at)).pipe(
    Effect.zipRight(Metric.increment(runsMetric(row.name, row.queue, "released")))
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
      const watchdog = yield* Watchdog.make
      const now = yield* DateTime.now
      const leaseId = crypto.randomUUID()
      const [row] = yield* store.claim(queueName, { leaseId, now, until: DateTime.addDuration(now, queue.lease) }, 1)
      if (row === undefined) return Option.none()
      const complete = (held: Held, at: DateTime.Utc) => Effect.asVoid(store.complete([held], at))
      const run = yield* restore(execute(registry, queue, row, leaseId, options.hooks ?? {}, watchdog, complete)).pipe(
        Effect.onInterrupt(() => handBackRun(store, row, leaseId))
      )
      return Option.some(run)
    }).pipe(Effect.scoped)
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

interface Claimed {
  readonly row: TaskRow
  readonly leaseId: string
  readonly claimedAt: number
}

/**
 * The tasks one claim took for a queue and no slot has started yet. One slot claims at a time;
 * slots that waited meanwhile take from what it claimed instead of claiming again, except a woken
 * slot behind a claim already under way when it woke. Closing the scope hands back what is still
 * buffered.
 */
const makeBuffer = (store: TaskStoreShape, queue: ResolvedQueue, batch: number) =>
  Effect.gen(function*() {
    const claimed: Array<Claimed> = []
    const lock = yield* Effect.makeSemaphore(1)
    const maxWait = Math.min(Duration.toMillis(queue.pollInterval), Duration.toMillis(queue.lease) / 3)
    // Claims begun, and whether one is under way (they run one at a time, under `lock`).
    let claims = 0
    let claiming = false
    let lastFull = false
    // What a claim asks for: halved (down to the concurrency) when buffered tasks went stale, doubled
    // (up to `batch`) when a full claim was used up quickly. A queue of slow tasks ends up claiming
    // only what its slots run, instead of claiming and handing back over and over.
    const least = Math.min(batch, queue.concurrency)
    let size = batch
    let lastClaimAt = 0
    // The last claim found nothing: until a wake-up or a poll says otherwise, nothing is due.
    let drained = false

    const handBack = (items: ReadonlyArray<Claimed>) =>
      items.length === 0 ? Effect.void : Effect.flatMap(
        DateTime.now,
        (now) => Effect.forEach(items, (c) => store.release(c.row.id, c.leaseId, now), { discard: true })
      )
    yield* Effect.addFinalizer(() => Effect.suspend(() => handBack(claimed.splice(0))))

    const refill = (seen: number) =>
      Effect.gen(function*() {
        // Another slot claimed while this one waited for the lock: take from that claim instead.
        if (claimed.length > 0) return true
        if (claims !== seen) return false
        const now = yield* DateTime.now
        if (lastFull && now.epochMillis - lastClaimAt < maxWait / 2) size = Math.min(batch, size * 2)
        const leaseId = crypto.randomUUID()
        claims++
        claiming = true
        const rows = yield* store.claim(
          queue.name,
          { leaseId, now, until: DateTime.addDuration(now, queue.lease) },
          size
        ).pipe(Effect.ensuring(Effect.sync(() => {
          claiming = false
        })))
        lastClaimAt = now.epochMillis
        lastFull = rows.length === size
        drained = rows.length === 0
        for (const row of rows) claimed.push({ row, leaseId, claimedAt: now.epochMillis })
        return rows.length > 0
      })

    /**
     * The next claimed task, claiming a batch when none is buffered; call uninterruptibly. A slot
     * that was not woken (it just started, or just finished a task) does not claim after a claim
     * that found nothing: that is what keeps idle slots from claiming in a herd.
     */
    const next = (woken: boolean): Effect.Effect<Option.Option<Claimed>> =>
      Effect.gen(function*() {
        while (true) {
          const now = yield* DateTime.now
          const stale: Array<Claimed> = []
          while (claimed.length > 0 && now.epochMillis - claimed[0].claimedAt > maxWait) stale.push(claimed.shift()!)
          if (stale.length > 0) size = Math.max(least, Math.floor(size / 2))
          yield* handBack(stale)
          const head = claimed.shift()
          if (head !== undefined) return Option.some(head)
          if (drained && !woken) return Option.none()
          // The claims after which this slot need not claim itself. Any claim that ends while it waits
          // for the lock serves a slot that only looks for more work, the one under way included. A
          // woken slot needs one begun after its wake-up: the claim under way may have read the queue
          // before the enqueue that woke it committed, and skipping would leave that task until the
          // next poll.
          const seen = claiming && !woken ? claims - 1 : claims
          if (!(yield* lock.withPermits(1)(refill(seen)))) return Option.none()
        }
      })
    return {
      next,
      /** Whether more work may be waiting: buffered tasks, or a claim that took all it asked for. */
      more: Effect.sync(() => claimed.length > 0 || lastFull)
    }
  })

/**
 * Completions of a queue, written together without holding up the slots: a slot hands its
 * completion over and takes its next task, while one write at a time records every completion
 * handed over so far ("group commit"). The writes run as the loop's forked work, so a stop waits
 * for them. A completion whose write is lost (a crash, a lost database) leaves its task running
 * until the lease lapses and it runs again, as a crash right after the handler would.
 */
const makeCompleter = (store: TaskStoreShape, fork: (work: Effect.Effect<void>) => Effect.Effect<unknown>) => {
  let waiting: Array<Held> = []
  let writing = false
  const writeAll: Effect.Effect<void> = Effect.suspend(() => {
    if (waiting.length === 0) {
      writing = false
      return Effect.void
    }
    const batch = waiting
    waiting = []
    return DateTime.now.pipe(
      Effect.flatMap((now) => store.complete(batch, now)),
      Effect.tap((done) =>
        done.length === batch.length ?
          Effect.void :
          Effect.logWarning(`lease lost before ${batch.length - done.length} completions were recorded`)
      ),
      Effect.catchAllCause((cause) => Effect.logWarning("recording completions failed", cause)),
      Effect.zipRight(writeAll)
    )
  })
  return (held: Held): Effect.Effect<void> =>
    Effect.suspend(() => {
      waiting.push(held)
      if (writing) return Effect.void
      writing = true
      return Effect.asVoid(fork(writeAll))
    })
}

/**
 * Starts `concurrency` slots per queue in the current scope. A slot takes a claimed task from its
 * queue's buffer (claiming a batch when it is empty), runs it, and goes again while more may be
 * waiting; otherwise it waits for the poll interval or a wake-up. A wake-up (an enqueue's
 * notification) wakes one idle slot, and a slot that found more work than it can run wakes the
 * next, so an enqueue costs one claim, not one per idle slot. Closing the scope stops it gracefully
 * and hands back buffered tasks.
 */
const makeUntraced = <R>(
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
    const inFlight = new Map<string, number>()
    const outcomes: Record<Outcome, number> = { succeeded: 0, retried: 0, dead: 0, released: 0 }
    const wakers = new Map<string, Queue.Queue<void>>()
    for (const queue of queues) wakers.set(queue.name, yield* Queue.sliding<void>(queue.concurrency))

    const wake = (queue: string) => {
      const waker = wakers.get(queue)
      return waker === undefined ? Effect.void : Effect.asVoid(waker.offer(undefined))
    }
    const count = (queue: string, delta: number) =>
      Effect.sync(() => inFlight.set(queue, (inFlight.get(queue) ?? 0) + delta))

    /** One slot: run a claimed task and go again while more may wait, else wait a poll interval or a wake-up. */
    const slot = (
      queue: ResolvedQueue,
      buffer: Effect.Effect.Success<ReturnType<typeof makeBuffer>>,
      watchdog: Watchdog.Watchdog,
      complete: (held: Held, now: DateTime.Utc) => Effect.Effect<void>
    ): BackgroundLoop.Iteration<TaskStore | R> => {
      // Whether this slot comes from its idle wait (a wake-up or the poll interval) rather than a run.
      let woken = false
      return {
        run: Effect.uninterruptibleMask((restore) =>
          Effect.gen(function*() {
            const next = yield* buffer.next(woken)
            woken = false
            if (Option.isNone(next)) return false
            const { leaseId, row } = next.value
            if (yield* buffer.more) yield* wake(queue.name)
            yield* count(queue.name, 1)
            const run = yield* restore(
              execute(registry, queue, row, leaseId, options.hooks ?? {}, watchdog, complete)
            ).pipe(
              Effect.onInterrupt(() => handBackRun(store, row, leaseId)),
              Effect.ensuring(count(queue.name, -1))
            )
            outcomes[run.outcome]++
            return yield* buffer.more
          })
        ),
        idle: Effect.raceFirst(Effect.sleep(queue.pollInterval), wakers.get(queue.name)!.take).pipe(
          Effect.zipRight(Effect.sync(() => {
            woken = true
          }))
        ),
        // A database outage must not kill the worker: the first retry after a poll interval, then slower.
        backoff: { initial: queue.pollInterval, max: Duration.max(queue.pollInterval, MAX_BACKOFF) },
        annotations: { queue: queue.name }
      }
    }

    const loop = yield* BackgroundLoop.make({
      name: "TaskWorker",
      drainBudget: budget,
      // Built at each start: the buffers hand back their tasks when the stop closes that scope.
      iterations: Effect.gen(function*() {
        const slots: Array<BackgroundLoop.Iteration<TaskStore | R>> = []
        const watchdog = yield* Watchdog.make
        for (const queue of queues) {
          const batch = Math.max(1, options.claimBatch ?? Math.max(queue.concurrency * 4, 64))
          const buffer = yield* makeBuffer(store, queue, batch)
          const complete = makeCompleter(store, (work) => loop.fork(work))
          for (let i = 0; i < queue.concurrency; i++) slots.push(slot(queue, buffer, watchdog, complete))
        }
        return slots
      })
    })
    yield* loop.start

    // Wake-ups from enqueues anywhere; while they are lost, polling still finds the work.
    const listening = yield* BackgroundLoop.listen({
      name: "TaskWorker",
      notifications: store.notifications,
      ping: store.ping,
      onNotification: wake
    })
    // Through an outage every sample fails alike: one warning when sampling starts failing, one
    // info when it works again.
    const sampling = yield* OutageLog.make({
      failing: "queue depth sampling failing; retrying at each sample",
      recovered: "queue depth sampling recovered"
    })
    yield* Effect.gen(function*() {
      const now = yield* DateTime.now
      for (const depth of yield* store.depth(now)) {
        for (const key of ["ready", "scheduled", "running", "dead"] as const) {
          yield* Metric.set(Metrics.tagged(Metrics.depth, { queue: depth.queue, state: key }), depth[key])
        }
      }
      yield* sampling.succeeded()
    }).pipe(
      Effect.catchAllCause(sampling.failed),
      Effect.schedule(Schedule.spaced(options.depthInterval ?? "15 seconds")),
      Effect.forkScoped
    )

    return {
      status: Effect.gen(function*() {
        return {
          state: yield* loop.state,
          listening: yield* listening,
          queues: queues.map((q) => ({
            name: q.name,
            concurrency: q.concurrency,
            inFlight: inFlight.get(q.name) ?? 0
          })),
          outcomes: { ...outcomes }
        }
      }),
      stop: (within) => Effect.asVoid(loop.stop(within)),
      wake
    }
  })

/**
 * A worker over `registry`'s queues, running in the scope; each of its methods starts a span named
 * `TaskWorker.<method>` (whoever builds it: the layer, the event bus's own deliveries, tests).
 */
export const make = <R>(
  registry: Registry<R>,
  options: WorkerOptions = {}
): Effect.Effect<TaskWorkerShape, never, TaskStore | R | Scope.Scope> =>
  makeUntraced(registry, options).pipe(withMethodSpans("TaskWorker"))

/** The worker as a service, running for the life of the layer. */
export const layer = <R>(
  registry: Registry<R>,
  options: WorkerOptions = {}
): Layer.Layer<TaskWorker, never, TaskStore | R> => Layer.scoped(TaskWorker, make(registry, options))
