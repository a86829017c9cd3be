import {
  HttpApi,
  HttpApiEndpoint,
  HttpApiGroup,
  HttpApiMiddleware,
  HttpApiSchema,
  HttpApiSecurity,
  OpenApi
} from "@effect/platform"
import { Schema } from "effect"
import { InvalidTransition, NotFound, PayloadTooLarge, Unauthorized, UnsupportedMediaType } from "./Errors.js"
import { HealthApi } from "./HealthApi.js"
import { InternalError, RequestTimeout, RouteNotFound, ServiceUnavailable } from "./HttpErrors.js"
import { UserId } from "./Ids.js"
import { docs, withRequestIdHeader } from "./OpenApiDocs.js"
import {
  EventView,
  OperatorAction,
  ReplicaView,
  RequeuedTasks,
  TaskState,
  TaskView,
  ThroughputBucket
} from "./Operations.js"
import { QueueDepthView, QueueMetrics } from "./QueueMetrics.js"
import {
  ExpiredBookingPreview,
  InactiveSessionPreview,
  JobDetail,
  JobRun,
  JobStatus,
  RunOutcome,
  SchedulerStatus
} from "./Scheduler.js"

/**
 * The operator's bearer token (`SCHEDULER_ADMIN_TOKEN`). A wrong or missing token is 401; with no
 * token configured every admin endpoint is 401, so an unconfigured deployment exposes nothing.
 */
export class AdminAuthentication extends HttpApiMiddleware.Tag<AdminAuthentication>()(
  "@clinic/domain/AdminAuthentication",
  { failure: Unauthorized, security: { bearer: HttpApiSecurity.bearer } }
) {}

const jobName = Schema.Struct({ name: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(100)) })

const Limit = Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 500))

export class JobsApi extends HttpApiGroup.make("jobs")
  .add(
    HttpApiEndpoint.get("list", "/jobs").annotateContext(
      docs(
        "List jobs",
        "Every job of the engine: schedule, paused, running, next fire times and last run. 503 when the run history is unreachable."
      )
    ).addSuccess(SchedulerStatus)
  )
  .add(
    HttpApiEndpoint.get("get", "/jobs/:name").annotateContext(
      docs("Get a job", "One job with its `limit` most recent runs (default 20). An unknown job is a 404.")
    )
      .setPath(jobName)
      .setUrlParams(Schema.Struct({ limit: Schema.optional(Limit) }))
      .addSuccess(JobDetail)
      .addError(NotFound)
  )
  .add(
    HttpApiEndpoint.post("runNow", "/jobs/:name/run").annotateContext(
      docs(
        "Run a job now",
        "Runs the job now (trigger `manual`, also when the job is paused) and answers the run; while another run of the job holds its claim, this one is recorded `skipped`."
      )
    )
      .setPath(jobName)
      .addSuccess(JobRun)
      .addError(NotFound)
  )
  .add(
    HttpApiEndpoint.post("pause", "/jobs/:name/pause")
      .setPath(jobName)
      .setUrlParams(Schema.Struct({ reason: Schema.optional(Schema.String.pipe(Schema.maxLength(500))) }))
      .addSuccess(JobStatus)
      .addError(NotFound)
      .annotate(OpenApi.Summary, "Pause a job on every replica")
      .annotate(
        OpenApi.Description,
        "Scheduled ticks are recorded `skipped` until it is resumed; `reason` is shown with its status and kept in the operator actions."
      )
  )
  .add(
    HttpApiEndpoint.post("resume", "/jobs/:name/resume").annotateContext(
      docs("Resume a job", "The job's scheduled ticks run again.")
    ).setPath(jobName).addSuccess(JobStatus).addError(NotFound)
  )
  .add(
    HttpApiEndpoint.get("runs", "/runs")
      .setUrlParams(Schema.Struct({
        job: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(100))),
        outcome: Schema.optional(RunOutcome),
        from: Schema.optional(Schema.DateTimeUtc),
        to: Schema.optional(Schema.DateTimeUtc),
        limit: Schema.optional(Limit)
      }))
      .addSuccess(Schema.Array(JobRun))
      .annotate(OpenApi.Summary, "Run history across jobs")
      .annotate(
        OpenApi.Description,
        "Newest first; narrowed by job, outcome and scheduled time (`from` inclusive, `to` exclusive, ISO 8601). `limit` 1..500, default 50."
      )
  )
  .middleware(AdminAuthentication)
  .annotate(OpenApi.Description, "The engine's jobs: their state and runs; run, pause and resume.")
{}

export class CleanupPreviewApi extends HttpApiGroup.make("cleanup")
  .add(
    HttpApiEndpoint.get("inactiveSessions", "/cleanup/preview/inactive-sessions").annotateContext(
      docs(
        "Preview inactive auth sessions",
        "Auth sessions idle for `olderThanHours` (default: the cleanup's own threshold), which the cleanup would delete, at most `limit`. Deletes nothing."
      )
    )
      .setUrlParams(Schema.Struct({
        olderThanHours: Schema.optional(Schema.NumberFromString.pipe(Schema.between(0, 24 * 365))),
        limit: Schema.optional(Limit)
      }))
      .addSuccess(Schema.Array(InactiveSessionPreview))
  )
  .add(
    HttpApiEndpoint.get("expiredBookings", "/cleanup/preview/expired-bookings").annotateContext(
      docs(
        "Preview lapsed holds",
        "Pending bookings whose hold has passed, which the next `booking-hold-expiry` run marks `expired`, at most `limit`. Changes nothing."
      )
    )
      .setUrlParams(Schema.Struct({ limit: Schema.optional(Limit) }))
      .addSuccess(Schema.Array(ExpiredBookingPreview))
  )
  .middleware(AdminAuthentication)
  .annotate(OpenApi.Description, "What the cleanup jobs would delete next, without deleting it.")
{}

const taskId = Schema.Struct({ id: Schema.UUID })

/**
 * The task queue as an operator works it: tasks by queue and state (payloads redacted), a dead
 * task requeued or discarded, a queue's dead tasks requeued at once, and the last hour's
 * throughput. Every change is recorded in the operator actions as `admin-api`.
 */
export class TasksApi extends HttpApiGroup.make("tasks")
  .add(
    HttpApiEndpoint.get("list", "/tasks")
      .setUrlParams(Schema.Struct({
        queue: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(100))),
        status: Schema.optional(TaskState),
        limit: Schema.optional(Limit)
      }))
      .addSuccess(Schema.Array(TaskView))
      .annotate(OpenApi.Summary, "List tasks")
      .annotate(
        OpenApi.Description,
        "Newest first, narrowed by queue and state; payloads redacted. `limit` default 50."
      )
  )
  .add(
    HttpApiEndpoint.get("get", "/tasks/:id")
      .setPath(taskId)
      .addSuccess(TaskView)
      .addError(NotFound)
      .annotate(OpenApi.Summary, "One task, with its last error and redacted payload")
      .annotate(
        OpenApi.Description,
        "Name, queue, state, attempts, timing and last error; personal fields of the payload are redacted. Unknown id: 404."
      )
  )
  .add(
    HttpApiEndpoint.post("requeue", "/tasks/:id/requeue")
      .setPath(taskId)
      .addSuccess(TaskView)
      .addError(NotFound)
      .addError(InvalidTransition)
      .annotate(OpenApi.Summary, "Requeue a dead task")
      .annotate(OpenApi.Description, "The task is pending again, due now, with its attempts reset. Not dead: 409.")
  )
  .add(
    HttpApiEndpoint.del("discard", "/tasks/:id")
      .setPath(taskId)
      .addSuccess(Schema.Void)
      .addError(NotFound)
      .addError(InvalidTransition)
      .annotate(OpenApi.Summary, "Discard a dead task")
      .annotate(OpenApi.Description, "Deletes a dead task for good. Not dead: 409.")
  )
  .add(
    HttpApiEndpoint.post("requeueDead", "/queues/:queue/requeue-dead")
      .setPath(Schema.Struct({ queue: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(100)) }))
      .addSuccess(RequeuedTasks)
      .annotate(OpenApi.Summary, "Requeue a queue's dead tasks")
      .annotate(OpenApi.Description, "Up to 1000 dead tasks of the queue become pending again; answers how many.")
  )
  .add(
    HttpApiEndpoint.get("depth", "/queues/depth")
      .addSuccess(Schema.Array(QueueDepthView))
      .annotate(OpenApi.Summary, "Tasks per queue by state, from the task table")
      .annotate(OpenApi.Description, "Counts of tasks by state (pending, running, succeeded, dead) for every queue.")
  )
  .add(
    HttpApiEndpoint.get("throughput", "/queues/throughput")
      .addSuccess(Schema.Array(Schema.Struct({ queue: Schema.String, buckets: Schema.Array(ThroughputBucket) })))
      .annotate(OpenApi.Summary, "Finished tasks per queue over the last hour")
      .annotate(OpenApi.Description, "Twelve five-minute buckets per queue: tasks that succeeded and tasks that died.")
  )
  .middleware(AdminAuthentication)
  .annotate(
    OpenApi.Description,
    "The task queue as an operator works it: tasks by queue and state, dead tasks requeued or discarded, depth and throughput."
  )
{}

/** Operations seen from above: outbox events and their deliveries, replicas, what operators did. */
export class OperationsApi extends HttpApiGroup.make("operations")
  .add(
    HttpApiEndpoint.get("events", "/events")
      .setUrlParams(Schema.Struct({ limit: Schema.optional(Limit) }))
      .addSuccess(Schema.Array(EventView))
      .annotate(OpenApi.Summary, "Recent outbox events with their deliveries")
      .annotate(
        OpenApi.Description,
        "Newest first (default 50); per subscriber the delivery is pending, done or failed. Bodies redacted."
      )
  )
  .add(
    HttpApiEndpoint.get("replicas", "/replicas")
      .addSuccess(Schema.Array(ReplicaView))
      .annotate(OpenApi.Summary, "Scheduler replicas seen in the last hour")
      .annotate(
        OpenApi.Description,
        "Each with its start, last heartbeat, whether it is alive (a heartbeat within three leases), its queues and the job runs it holds."
      )
  )
  .add(
    HttpApiEndpoint.get("actions", "/operator-actions")
      .setUrlParams(Schema.Struct({ limit: Schema.optional(Limit) }))
      .addSuccess(Schema.Array(OperatorAction))
      .annotate(OpenApi.Summary, "What operators did, newest first")
      .annotate(
        OpenApi.Description,
        "Sign-ins, sign-outs and every change made from the dashboard or this API (default 50)."
      )
  )
  .middleware(AdminAuthentication)
  .annotate(
    OpenApi.Description,
    "What the operator views read: outbox events and their deliveries, scheduler replicas, and the operator actions log."
  )
{}

/** What ending a user's auth sessions removed. */
export class EndedAuthSessions extends Schema.Class<EndedAuthSessions>("EndedAuthSessions")({
  userId: UserId,
  deletedSessions: Schema.Int,
  /** Media rows of those sessions, deleted with them. */
  deletedMedia: Schema.Int,
  /** Their files removed from the media folder. */
  removedFiles: Schema.Int
}) {}

/**
 * Signing a user out everywhere (a stolen device, a leaving employee): every auth session of the
 * user ends now, with its media, as the cleanup jobs remove them. An unknown user is a 404.
 */
export class AuthSessionsApi extends HttpApiGroup.make("authSessions")
  .add(
    HttpApiEndpoint.del("endForUser", "/users/:userId/auth-sessions").annotateContext(
      docs(
        "Sign a user out everywhere",
        "Ends every auth session of the user now, with its media rows and files, and says how many went. An unknown user is a 404."
      )
    )
      .setPath(Schema.Struct({ userId: UserId }))
      .addSuccess(EndedAuthSessions)
      .addError(NotFound)
  )
  .middleware(AdminAuthentication)
  .annotate(OpenApi.Description, "Signing a user out everywhere.")
{}

/**
 * Task queue metrics: JSON for people and scripts, Prometheus text for scrapers. Both need the
 * admin token (Prometheus sends it with `authorization: { credentials: ... }`): task names and
 * queue sizes say something about the practice's activity.
 */
export class MetricsApi extends HttpApiGroup.make("metrics")
  .add(
    HttpApiEndpoint.get("queues", "/queues/metrics").annotateContext(
      docs(
        "Queue metrics (JSON)",
        "Task queue depth, runs by outcome, durations, and the state of the workers and the event bus."
      )
    ).addSuccess(QueueMetrics)
  )
  .add(
    HttpApiEndpoint.get("prometheus", "/metrics").annotateContext(
      docs(
        "Metrics (Prometheus)",
        "The same metrics in the Prometheus text format, for a scraper sending the admin token."
      )
    ).addSuccess(
      HttpApiSchema.Text({ contentType: "text/plain; version=0.0.4; charset=utf-8" })
    )
  )
  .middleware(AdminAuthentication)
  .annotate(OpenApi.Description, "Task queue and event bus metrics, as JSON and for Prometheus.")
{}

/** The scheduler's admin API: health, jobs and their runs, cleanup previews, auth sessions, queue metrics. */
export class SchedulerAdminApi extends HttpApi.make("scheduler-admin")
  .add(HealthApi)
  .add(JobsApi)
  .add(CleanupPreviewApi)
  .add(AuthSessionsApi)
  .add(MetricsApi)
  .add(TasksApi)
  .add(OperationsApi)
  .addError(InternalError)
  .addError(RouteNotFound)
  .addError(PayloadTooLarge)
  .addError(UnsupportedMediaType)
  .addError(RequestTimeout)
  .addError(ServiceUnavailable)
  .annotateContext(OpenApi.annotations({
    title: "Clinic scheduler admin API",
    description: "The scheduler's operator API. Every endpoint but `/health` and `/ready` needs the bearer " +
      "token `SCHEDULER_ADMIN_TOKEN`.",
    servers: [{ url: "/", description: "The scheduler that serves this document" }],
    transform: withRequestIdHeader
  }))
{}
