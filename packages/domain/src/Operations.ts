import { Schema } from "effect"
import { JobRun } from "./Scheduler.js"
import { Timestamp } from "./Timestamp.js"

/** What an operator did, in the operator actions log (and in the `action` column of `operator_actions`). */
export const OperatorActionKind = Schema.Literal(
  "sign-in",
  "sign-out",
  "job.run",
  "job.pause",
  "job.resume",
  "task.requeue",
  "task.discard",
  "queue.requeue-dead"
)
export type OperatorActionKind = typeof OperatorActionKind.Type

/** One operator action: who did what, to what, when. */
export class OperatorAction extends Schema.Class<OperatorAction>("OperatorAction")({
  id: Schema.Number,
  /** The name given at dashboard sign-in, or `admin-api` for a call with the bearer token. */
  operator: Schema.String,
  action: OperatorActionKind,
  /** A job name, task id or queue name; null for sign-in and sign-out. */
  target: Schema.NullOr(Schema.String),
  /** A pause reason, a count of requeued tasks... */
  detail: Schema.NullOr(Schema.String),
  at: Timestamp
}) {}

/** A task's state in the queue. */
export const TaskState = Schema.Literal("pending", "running", "succeeded", "dead")
export type TaskState = typeof TaskState.Type

/** A task as an operator sees it: its payload with personal fields redacted. */
export class TaskView extends Schema.Class<TaskView>("TaskView")({
  id: Schema.String,
  name: Schema.String,
  queue: Schema.String,
  status: TaskState,
  attempts: Schema.Number,
  maxAttempts: Schema.Number,
  runAt: Timestamp,
  createdAt: Timestamp,
  updatedAt: Timestamp,
  finishedAt: Schema.NullOr(Timestamp),
  lastError: Schema.NullOr(Schema.String),
  /** Names, emails, phone numbers, transcripts and notes replaced by `[redacted]`. */
  payload: Schema.Unknown
}) {}

/** Tasks of one queue that finished within one bucket of time. */
export class ThroughputBucket extends Schema.Class<ThroughputBucket>("ThroughputBucket")({
  start: Timestamp,
  succeeded: Schema.Number,
  dead: Schema.Number
}) {}

/** How many dead tasks a bulk requeue put back. */
export class RequeuedTasks extends Schema.Class<RequeuedTasks>("RequeuedTasks")({
  queue: Schema.String,
  requeued: Schema.Number
}) {}

export const DeliveryState = Schema.Literal("pending", "done", "failed")
export type DeliveryState = typeof DeliveryState.Type

/** An outbox event (body redacted) with its delivery to each subscriber. */
export class EventView extends Schema.Class<EventView>("EventView")({
  id: Schema.String,
  type: Schema.String,
  occurredAt: Timestamp,
  dispatchedAt: Schema.NullOr(Timestamp),
  payload: Schema.Unknown,
  deliveries: Schema.Array(Schema.Struct({
    subscriber: Schema.String,
    state: DeliveryState,
    attempts: Schema.Number,
    lastError: Schema.NullOr(Schema.String)
  }))
}) {}

/** A scheduler replica as its heartbeats show it. */
export class ReplicaView extends Schema.Class<ReplicaView>("ReplicaView")({
  replica: Schema.String,
  startedAt: Timestamp,
  lastSeenAt: Timestamp,
  /** Its last heartbeat is within three leases. */
  alive: Schema.Boolean,
  /** The task queues its workers take tasks from. */
  queues: Schema.Array(Schema.String),
  /** Job runs it holds now. */
  running: Schema.Array(JobRun)
}) {}
