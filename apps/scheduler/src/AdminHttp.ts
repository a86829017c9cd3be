import { Health, NotReady, SchedulerAdminApi } from "@clinic/domain"
import { HttpApiBuilder, HttpApiSwagger, HttpMiddleware, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { SqlClient } from "@effect/sql"
import { Effect, Layer } from "effect"
import { createServer } from "node:http"
import { SchedulerConfig } from "./SchedulerConfig.js"

const HealthLive = HttpApiBuilder.group(SchedulerAdminApi, "health", (handlers) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const ok = new Health({ status: "ok", service: "scheduler" })
    return handlers
      .handle("health", () => Effect.succeed(ok))
      .handle("ready", () =>
        sql`SELECT 1`.pipe(
          Effect.timeout("2 seconds"),
          Effect.as(ok),
          Effect.catchAll(() => Effect.fail(new NotReady({ message: "The database does not answer" })))
        ))
  }))

export const AdminApiLive = HttpApiBuilder.api(SchedulerAdminApi).pipe(Layer.provide(HealthLive))

/** The admin HTTP server; needs the database. */
export const AdminHttpLive = HttpApiBuilder.serve(HttpMiddleware.logger).pipe(
  Layer.provide(HttpApiSwagger.layer({ path: "/docs" })),
  Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" })),
  Layer.provide(AdminApiLive),
  HttpServer.withLogAddress,
  Layer.provide(
    Layer.unwrapEffect(
      Effect.map(
        SchedulerConfig,
        (config) => NodeHttpServer.layer(createServer, { host: config.host, port: config.port })
      )
    )
  ),
  Layer.provide(SchedulerConfig.Default)
)
