import { Schema } from "effect"
import { AuthSessionId, BookingId, PatientId, UserId } from "./Ids.js"
import { Timestamp } from "./Timestamp.js"

/** How a run ended; `running` while a replica holds its claim. */
export const RunOutcome = Schema.Literal("running", "succeeded", "failed", "skipped", "interrupted")
export type RunOutcome = typeof RunOutcome.Type

/** What started a run: its schedule, an operator, or a catch-up after downtime (`missed: runOnce`). */
export const RunTrigger = Schema.Literal("schedule", "manual", "catch-up")
export type RunTrigger = typeof RunTrigger.Type

/** One tick of one job, as the run history keeps it. `(job, scheduledAt)` is unique across replicas. */
export class JobRun extends Schema.Class<JobRun>("JobRun")({
  id: Schema.Number,
  job: Schema.String,
  scheduledAt: Timestamp,
  startedAt: Schema.NullOr(Timestamp),
  finishedAt: Schema.NullOr(Timestamp),
  /** While `running`: the claim is the holder's until then, and another replica's after. */
  leaseUntil: Schema.NullOr(Timestamp),
  outcome: RunOutcome,
  trigger: RunTrigger,
  result: Schema.NullOr(Schema.Unknown),
  error: Schema.NullOr(Schema.String),
  /** The replica that holds (or last held) the claim. */
  replica: Schema.String,
  /** 1, plus one for every takeover of a claim whose holder died. */
  attempt: Schema.Number
}) {}

export class JobStatus extends Schema.Class<JobStatus>("JobStatus")({
  name: Schema.String,
  schedule: Schema.String,
  paused: Schema.Boolean,
  /** Why an operator paused it (null when running, or paused without a reason). */
  pausedReason: Schema.NullOr(Schema.String),
  /** A run of this job is in progress on this replica. */
  running: Schema.Boolean,
  nextRuns: Schema.Array(Timestamp),
  lastRun: Schema.NullOr(JobRun)
}) {}

export const SchedulerState = Schema.Literal("not-started", "running", "stopped")
export type SchedulerState = typeof SchedulerState.Type

export class SchedulerStatus extends Schema.Class<SchedulerStatus>("SchedulerStatus")({
  state: SchedulerState,
  replica: Schema.String,
  jobs: Schema.Array(JobStatus)
}) {}

export class JobDetail extends Schema.Class<JobDetail>("JobDetail")({
  status: JobStatus,
  recentRuns: Schema.Array(JobRun)
}) {}

/** A session the inactive-session cleanup would delete. */
export class InactiveSessionPreview extends Schema.Class<InactiveSessionPreview>("InactiveSessionPreview")({
  sessionId: AuthSessionId,
  userId: UserId,
  lastActiveAt: Timestamp,
  idleSeconds: Schema.Number
}) {}

/** A pending booking whose hold has passed, which the booking expiry would mark `expired`. */
export class ExpiredBookingPreview extends Schema.Class<ExpiredBookingPreview>("ExpiredBookingPreview")({
  bookingId: BookingId,
  therapistId: UserId,
  patientId: PatientId,
  holdExpiresAt: Timestamp,
  overdueSeconds: Schema.Number
}) {}
