import { SessionCleanup } from "@clinic/cleanup"
import { EndedAuthSessions, SchedulerAdminApi, ServiceUnavailable } from "@clinic/domain"
import { createHoldingServer, ErrorShape, Health, RequestBody } from "@clinic/http"
import { SchedulerEngine, type StoreUnavailable } from "@clinic/scheduler-engine"
import { HttpApiBuilder, HttpApiSwagger, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Duration, Effect, Layer } from "effect"
import { AdminAuthLive } from "./AdminAuth.js"
import { MetricsLive } from "./MetricsHttp.js"
import { SchedulerConfig } from "./SchedulerConfig.js"

// The middleware (`ErrorShape`) adds `Retry-After` to every `ServiceUnavailable`.
const unavailable = (error: StoreUnavailable) =>
  Effect.fail(
    new ServiceUnavailable({
      message: `The run history is unreachable: ${error.message}`,
      retryAfter: ErrorShape.RETRY_AFTER_SECONDS
    })
  )

const JobsLive = HttpApiBuilder.group(SchedulerAdminApi, "jobs", (handlers) =>
  Effect.gen(function*() {
    const engine = yield* SchedulerEngine
    return handlers
      .handle("list", () => engine.status.pipe(Effect.catchTag("StoreUnavailable", unavailable)))
      .handle("get", ({ path, urlParams }) =>
        engine.job(path.name, urlParams.limit ?? 20).pipe(Effect.catchTag("StoreUnavailable", unavailable)))
      .handle("runNow", ({ path }) =>
        engine.runNow(path.name).pipe(Effect.catchTag("StoreUnavailable", unavailable)))
      .handle("pause", ({ path }) =>
        engine.pause(path.name).pipe(Effect.catchTag("StoreUnavailable", unavailable)))
      .handle("resume", ({ path }) => engine.resume(path.name).pipe(Effect.catchTag("StoreUnavailable", unavailable)))
  }))

const CleanupLive = HttpApiBuilder.group(SchedulerAdminApi, "cleanup", (handlers) =>
  Effect.gen(function*() {
    const cleanup = yield* SessionCleanup
    return handlers
      .handle("inactiveSessions", ({ urlParams }) =>
        cleanup.previewInactiveSessions({
          ...(urlParams.olderThanHours !== undefined ? { olderThan: Duration.hours(urlParams.olderThanHours) } : {}),
          limit: urlParams.limit ?? 100
        }))
      .handle("expiredBookings", ({ urlParams }) => cleanup.previewExpiredBookings({ limit: urlParams.limit ?? 100 }))
  }))

const AuthSessionsLive = HttpApiBuilder.group(SchedulerAdminApi, "authSessions", (handlers) =>
  Effect.gen(function*() {
    const cleanup = yield* SessionCleanup
    return handlers.handle("endForUser", ({ path }) =>
      cleanup.endUserAuthSessions(path.userId).pipe(
        Effect.map((ended) =>
          new EndedAuthSessions({
            userId: path.userId,
            deletedSessions: ended.deletedSessions,
            deletedMedia: ended.deletedMedia,
            removedFiles: ended.removedFiles
          })
        ),
        // A failed delete was logged with its cause; the operator gets a 500 and may retry.
        Effect.catchTag("CleanupFailed", Effect.die)
      ))
  }))

/** The admin API's handlers; needs the engine, the cleanup service, the task store, the database and the config. */
export const AdminApiLive = HttpApiBuilder.api(SchedulerAdminApi).pipe(
  Layer.provide(
    Layer.mergeAll(Health.layer(SchedulerAdminApi, "scheduler"), JobsLive, CleanupLive, AuthSessionsLive, MetricsLive)
      .pipe(
        Layer.provide(AdminAuthLive)
      )
  )
)

/**
 * The admin API with the API's error shape and request ids (`@clinic/http` ErrorShape), on
 * whatever `HttpServer` is provided (a real port in `AdminHttpLive`, `NodeHttpServer.layerTest` in tests).
 */
export const AdminServeLive = HttpApiBuilder.serve(ErrorShape.serviceMiddleware).pipe(
  Layer.provide(ErrorShape.layer(SchedulerAdminApi)),
  Layer.provide(RequestBody.layer(SchedulerAdminApi)),
  Layer.provide(HttpApiSwagger.layer({ path: "/docs" })),
  Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" })),
  Layer.provide(AdminApiLive)
)

/** The admin HTTP server on its configured port. */
export const AdminHttpLive = AdminServeLive.pipe(
  HttpServer.withLogAddress,
  Layer.provide(
    Layer.unwrapEffect(
      Effect.map(
        SchedulerConfig,
        (config) => NodeHttpServer.layer(createHoldingServer, { host: config.host, port: config.port })
      )
    )
  )
)
