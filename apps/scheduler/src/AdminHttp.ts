import { SessionCleanup } from "@clinic/cleanup"
import { EndedAuthSessions, SchedulerAdminApi } from "@clinic/domain"
import { createHoldingServer, ErrorShape, Health, RequestBody } from "@clinic/http"
import { HttpApiBuilder, HttpApiSwagger, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Duration, Effect, Layer } from "effect"
import { AdminAuthLive } from "./AdminAuth.js"
import { DashboardLive } from "./dashboard/DashboardHttp.js"
import { MetricsLive } from "./MetricsHttp.js"
import { API_OPERATOR, Operations } from "./Operations.js"
import { SchedulerConfig } from "./SchedulerConfig.js"

const JobsLive = HttpApiBuilder.group(SchedulerAdminApi, "jobs", (handlers) =>
  Effect.gen(function*() {
    const ops = yield* Operations
    return handlers
      .handle("list", () => ops.status)
      .handle("get", ({ path, urlParams }) => ops.job(path.name, urlParams.limit ?? 20))
      .handle("runNow", ({ path }) => ops.runNow(path.name, API_OPERATOR))
      .handle("pause", ({ path, urlParams }) => ops.pause(path.name, urlParams.reason ?? null, API_OPERATOR))
      .handle("resume", ({ path }) => ops.resume(path.name, API_OPERATOR))
      .handle("runs", ({ urlParams }) => ops.runs({ ...urlParams, limit: urlParams.limit ?? 50 }))
  }))

const TasksLive = HttpApiBuilder.group(SchedulerAdminApi, "tasks", (handlers) =>
  Effect.gen(function*() {
    const ops = yield* Operations
    return handlers
      .handle("list", ({ urlParams }) => ops.tasks({ ...urlParams, limit: urlParams.limit ?? 50 }))
      .handle("get", ({ path }) => ops.task(path.id))
      .handle("requeue", ({ path }) => ops.requeueTask(path.id, API_OPERATOR))
      .handle("discard", ({ path }) => ops.discardTask(path.id, API_OPERATOR))
      .handle("requeueDead", ({ path }) => ops.requeueDead(path.queue, API_OPERATOR))
      .handle("depth", () => ops.depth)
      .handle("throughput", () => ops.throughput)
  }))

const OperationsLive = HttpApiBuilder.group(SchedulerAdminApi, "operations", (handlers) =>
  Effect.gen(function*() {
    const ops = yield* Operations
    return handlers
      .handle("events", ({ urlParams }) => ops.events(urlParams.limit ?? 50))
      .handle("replicas", () => ops.replicas)
      .handle("actions", ({ urlParams }) => ops.actions(urlParams.limit ?? 50))
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

/** The admin API's handlers; needs `AdminAuthentication`, `Operations`, the cleanup service, the task store, the database and the config. */
export const AdminApiLive = HttpApiBuilder.api(SchedulerAdminApi).pipe(
  Layer.provide(
    Layer.mergeAll(
      Health.layer(SchedulerAdminApi, "scheduler"),
      JobsLive,
      CleanupLive,
      AuthSessionsLive,
      MetricsLive,
      TasksLive,
      OperationsLive
    )
  )
)

/**
 * The admin API and the dashboard (`/ui`, on the same `Operations`) with the API's error shape and request ids (`@clinic/http` ErrorShape), on
 * whatever `HttpServer` is provided (a real port in `AdminHttpLive`, `NodeHttpServer.layerTest` in tests).
 */
export const AdminServeLive = HttpApiBuilder.serve(ErrorShape.serviceMiddleware).pipe(
  Layer.provide(ErrorShape.layer(SchedulerAdminApi)),
  Layer.provide(RequestBody.layer(SchedulerAdminApi)),
  Layer.provide(HttpApiSwagger.layer({ path: "/docs" })),
  Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" })),
  Layer.provide([AdminApiLive, DashboardLive]),
  Layer.provide([Operations.Default, AdminAuthLive])
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
