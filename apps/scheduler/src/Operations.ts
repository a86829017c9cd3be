import {
  EventView,
  InvalidTransition,
  type JobDetail,
  type JobRun,
  type JobStatus,
  type NotFound,
  notFound,
  type OperatorAction,
  type OperatorActionKind,
  QueueDepthView,
  ReplicaView,
  RequeuedTasks,
  type SchedulerStatus,
  ServiceUnavailable,
  type TaskState,
  TaskView,
  ThroughputBucket
} from "@clinic/domain"
import { EventBus, OutboxStore } from "@clinic/events"
import { withMethodSpans } from "@clinic/foundation"
import { ErrorShape } from "@clinic/http"
import { TaskId, type TaskRow, TaskStore } from "@clinic/queue"
import { OperatorActionRepo } from "@clinic/repository"
import { type RunFilter, RunStore, SchedulerEngine, type StoreUnavailable } from "@clinic/scheduler-engine"
import { DateTime, Duration, Effect, Option, Schema } from "effect"
import { redact } from "./Redaction.js"
import { SchedulerConfig } from "./SchedulerConfig.js"

/** Who acts: the name given at dashboard sign-in, or `admin-api` for a bearer-token call. */
export type Operator = string
export const API_OPERATOR: Operator = "admin-api"

/** The queue the event bus delivers on (its default). */
const EVENTS_QUEUE = "events"
/** Most dead tasks one bulk requeue puts back; a larger backlog takes several clicks. */
const BULK_LIMIT = 1000

// The error middleware (`ErrorShape`) adds `Retry-After` to every `ServiceUnavailable`.
const unavailable = (error: StoreUnavailable) =>
  Effect.fail(
    new ServiceUnavailable({
      message: `The run history is unreachable: ${error.message}`,
      retryAfter: ErrorShape.RETRY_AFTER_SECONDS
    })
  )

const taskView = (row: TaskRow) =>
  new TaskView({
    id: row.id,
    name: row.name,
    queue: row.queue,
    status: row.status,
    attempts: row.attempts,
    maxAttempts: row.maxAttempts,
    runAt: row.runAt,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    finishedAt: row.finishedAt,
    lastError: row.lastError,
    payload: redact(row.payload)
  })

export interface TaskQuery {
  readonly queue?: string | undefined
  readonly status?: TaskState | undefined
  readonly limit: number
}

/**
 * What an operator sees and does, for the admin API and the dashboard alike (one source of
 * truth): every view reads through here, every action goes through here and is recorded in
 * `operator_actions`. Payloads and event bodies come out redacted.
 */
export class Operations extends Effect.Service<Operations>()("@clinic/scheduler/Operations", {
  effect: Effect.gen(function*() {
    const engine = yield* SchedulerEngine
    const runs = yield* RunStore
    const tasks = yield* TaskStore
    const outbox = yield* OutboxStore
    const actions = yield* OperatorActionRepo
    const config = yield* SchedulerConfig

    const record = (operator: Operator, action: OperatorActionKind, target: string | null, detail: string | null) =>
      Effect.flatMap(DateTime.now, (at) => actions.record({ operator, action, target, detail, at }))

    const findTask = (id: string) =>
      Effect.gen(function*() {
        const parsed = Schema.decodeUnknownOption(TaskId)(id)
        const row = Option.isSome(parsed) ? yield* tasks.get(parsed.value) : Option.none()
        return Option.isSome(row) ? row.value : yield* Effect.fail(notFound("Task", id))
      })

    const notDead = (row: TaskRow, to: string) =>
      new InvalidTransition({ message: `Task ${row.id} is ${row.status}, not dead`, from: row.status, to })

    return {
      record,
      status: engine.status.pipe(Effect.catchTag("StoreUnavailable", unavailable)) as Effect.Effect<
        SchedulerStatus,
        ServiceUnavailable
      >,
      job: (name: string, recentRuns: number): Effect.Effect<JobDetail, NotFound | ServiceUnavailable> =>
        engine.job(name, recentRuns).pipe(Effect.catchTag("StoreUnavailable", unavailable)),
      runs: (query: RunFilter): Effect.Effect<ReadonlyArray<JobRun>, ServiceUnavailable> =>
        runs.history(query).pipe(Effect.catchTag("StoreUnavailable", unavailable)),
      runNow: (name: string, operator: Operator): Effect.Effect<JobRun, NotFound | ServiceUnavailable> =>
        record(operator, "job.run", name, null).pipe(
          Effect.zipRight(engine.runNow(name)),
          Effect.catchTag("StoreUnavailable", unavailable)
        ),
      pause: (
        name: string,
        reason: string | null,
        operator: Operator
      ): Effect.Effect<JobStatus, NotFound | ServiceUnavailable> =>
        engine.pause(name, reason).pipe(
          Effect.tap(() => record(operator, "job.pause", name, reason)),
          Effect.catchTag("StoreUnavailable", unavailable)
        ),
      resume: (name: string, operator: Operator): Effect.Effect<JobStatus, NotFound | ServiceUnavailable> =>
        engine.resume(name).pipe(
          Effect.tap(() => record(operator, "job.resume", name, null)),
          Effect.catchTag("StoreUnavailable", unavailable)
        ),
      tasks: (query: TaskQuery) =>
        Effect.map(
          tasks.list({
            limit: query.limit,
            newestFirst: true,
            ...(query.queue !== undefined ? { queue: query.queue } : {}),
            ...(query.status !== undefined ? { status: query.status } : {})
          }),
          (rows) => rows.map(taskView)
        ),
      task: (id: string) => Effect.map(findTask(id), taskView),
      requeueTask: (id: string, operator: Operator) =>
        Effect.gen(function*() {
          const row = yield* findTask(id)
          const now = yield* DateTime.now
          if (!(yield* tasks.requeue(row.id, { now, runAt: now }))) return yield* notDead(row, "pending")
          yield* record(operator, "task.requeue", row.id, row.name)
          return taskView(Option.getOrElse(yield* tasks.get(row.id), () => row))
        }),
      discardTask: (id: string, operator: Operator) =>
        Effect.gen(function*() {
          const row = yield* findTask(id)
          if (!(yield* tasks.discard(row.id))) return yield* notDead(row, "discarded")
          yield* record(operator, "task.discard", row.id, row.name)
        }),
      requeueDead: (queue: string, operator: Operator) =>
        Effect.gen(function*() {
          const dead = yield* tasks.list({ queue, status: "dead", limit: BULK_LIMIT })
          const now = yield* DateTime.now
          let requeued = 0
          for (const row of dead) if (yield* tasks.requeue(row.id, { now, runAt: now })) requeued++
          yield* record(operator, "queue.requeue-dead", queue, `${requeued} tasks`)
          return new RequeuedTasks({ queue, requeued })
        }),
      depth: Effect.flatMap(DateTime.now, tasks.depth).pipe(
        Effect.map((rows) => rows.map((d) => new QueueDepthView(d)))
      ),
      /** Tasks finished per queue over the last hour, in five-minute buckets (empty ones included). */
      throughput: Effect.gen(function*() {
        const now = yield* DateTime.now
        const since = DateTime.subtract(now, { hours: 1 })
        const found = yield* tasks.finished(since, 5)
        const queues = [...new Set(found.map((b) => b.queue))].sort()
        return queues.map((queue) => ({
          queue,
          buckets: Array.from({ length: 12 }, (_, i) => {
            const start = DateTime.add(since, { minutes: i * 5 })
            const hit = found.find((b) => b.queue === queue && DateTime.Equivalence(b.start, start))
            return new ThroughputBucket({ start, succeeded: hit?.succeeded ?? 0, dead: hit?.dead ?? 0 })
          })
        }))
      }),
      events: (limit: number) =>
        Effect.gen(function*() {
          const recent = yield* outbox.recent(limit)
          const bus = yield* Effect.serviceOption(EventBus.EventBus)
          const subscribers = Option.isSome(bus) ? (yield* bus.value.status).subscribers : []
          const deliveries = yield* tasks.list({ queue: EVENTS_QUEUE, limit: limit * 10, newestFirst: true })
          const byKey = new Map(deliveries.map((t) => [`${t.name}:${(t.payload as { eventId?: string }).eventId}`, t]))
          return yield* Effect.forEach(recent, (event) =>
            Effect.gen(function*() {
              const processed = new Set(yield* outbox.processedBy(event.id))
              return new EventView({
                id: event.id,
                type: event.type,
                occurredAt: event.occurredAt,
                dispatchedAt: event.dispatchedAt,
                payload: redact(event.payload),
                deliveries: subscribers.filter((s) => s.events.includes(event.type as never)).map((s) => {
                  const task = byKey.get(`event:${s.name}:${event.id}`)
                  const state = processed.has(s.name) || task?.status === "succeeded"
                    ? "done" as const
                    : task?.status === "dead"
                    ? "failed" as const
                    : "pending" as const
                  return {
                    subscriber: s.name,
                    state,
                    attempts: task?.attempts ?? 0,
                    lastError: task?.lastError ?? null
                  }
                })
              })
            }))
        }),
      /** Replicas with a heartbeat in the last hour; alive while it is under three leases old. */
      replicas: Effect.gen(function*() {
        const now = yield* DateTime.now
        const seen = yield* runs.replicas(DateTime.subtract(now, { hours: 1 }))
        const running = yield* runs.history({ outcome: "running", limit: 500 })
        const aliveAfter = DateTime.subtractDuration(now, Duration.times(config.lease, 3))
        return seen.map((r) =>
          new ReplicaView({
            replica: r.replica,
            startedAt: r.startedAt,
            lastSeenAt: r.lastSeenAt,
            alive: DateTime.greaterThanOrEqualTo(r.lastSeenAt, aliveAfter),
            queues: r.queues,
            running: running.filter((run) => run.replica === r.replica)
          })
        )
      }).pipe(Effect.catchTag("StoreUnavailable", unavailable)),
      actions: (limit: number): Effect.Effect<ReadonlyArray<OperatorAction>> => actions.recent(limit)
    }
  }).pipe(withMethodSpans("Operations"))
}) {}
