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
import { NotFound, PayloadTooLarge, Unauthorized, UnsupportedMediaType } from "./Errors.js"
import { HealthApi } from "./HealthApi.js"
import { InternalError, RequestTimeout, RouteNotFound, ServiceUnavailable } from "./HttpErrors.js"
import { UserId } from "./Ids.js"
import { QueueMetrics } from "./QueueMetrics.js"
import {
  ExpiredBookingPreview,
  InactiveSessionPreview,
  JobDetail,
  JobRun,
  JobStatus,
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
  .add(HttpApiEndpoint.get("list", "/jobs").addSuccess(SchedulerStatus))
  .add(
    HttpApiEndpoint.get("get", "/jobs/:name")
      .setPath(jobName)
      .setUrlParams(Schema.Struct({ limit: Schema.optional(Limit) }))
      .addSuccess(JobDetail)
      .addError(NotFound)
  )
  .add(
    HttpApiEndpoint.post("runNow", "/jobs/:name/run")
      .setPath(jobName)
      .addSuccess(JobRun)
      .addError(NotFound)
  )
  .add(HttpApiEndpoint.post("pause", "/jobs/:name/pause").setPath(jobName).addSuccess(JobStatus).addError(NotFound))
  .add(HttpApiEndpoint.post("resume", "/jobs/:name/resume").setPath(jobName).addSuccess(JobStatus).addError(NotFound))
  .middleware(AdminAuthentication)
{}

export class CleanupPreviewApi extends HttpApiGroup.make("cleanup")
  .add(
    HttpApiEndpoint.get("inactiveSessions", "/cleanup/preview/inactive-sessions")
      .setUrlParams(Schema.Struct({
        olderThanHours: Schema.optional(Schema.NumberFromString.pipe(Schema.between(0, 24 * 365))),
        limit: Schema.optional(Limit)
      }))
      .addSuccess(Schema.Array(InactiveSessionPreview))
  )
  .add(
    HttpApiEndpoint.get("expiredBookings", "/cleanup/preview/expired-bookings")
      .setUrlParams(Schema.Struct({ limit: Schema.optional(Limit) }))
      .addSuccess(Schema.Array(ExpiredBookingPreview))
  )
  .middleware(AdminAuthentication)
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
    HttpApiEndpoint.del("endForUser", "/users/:userId/auth-sessions")
      .setPath(Schema.Struct({ userId: UserId }))
      .addSuccess(EndedAuthSessions)
      .addError(NotFound)
  )
  .middleware(AdminAuthentication)
{}

/**
 * Task queue metrics: JSON for people and scripts, Prometheus text for scrapers. Both need the
 * admin token (Prometheus sends it with `authorization: { credentials: ... }`): task names and
 * queue sizes say something about the practice's activity.
 */
export class MetricsApi extends HttpApiGroup.make("metrics")
  .add(HttpApiEndpoint.get("queues", "/queues/metrics").addSuccess(QueueMetrics))
  .add(
    HttpApiEndpoint.get("prometheus", "/metrics").addSuccess(
      HttpApiSchema.Text({ contentType: "text/plain; version=0.0.4; charset=utf-8" })
    )
  )
  .middleware(AdminAuthentication)
{}

/** The scheduler's admin API: health, jobs and their runs, cleanup previews, auth sessions, queue metrics. */
export class SchedulerAdminApi extends HttpApi.make("scheduler-admin")
  .add(HealthApi)
  .add(JobsApi)
  .add(CleanupPreviewApi)
  .add(AuthSessionsApi)
  .add(MetricsApi)
  .addError(InternalError)
  .addError(RouteNotFound)
  .addError(PayloadTooLarge)
  .addError(UnsupportedMediaType)
  .addError(RequestTimeout)
  .addError(ServiceUnavailable)
  .annotate(OpenApi.Title, "Clinic scheduler admin API")
{}
