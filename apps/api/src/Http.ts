import { ClinicApi } from "@clinic/domain"
import { createHoldingServer, ErrorShape, Health, RequestBody } from "@clinic/http"
import { HttpApiBuilder, HttpApiSwagger, HttpMiddleware, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { ApiConfig } from "./ApiConfig.js"
import { AuthenticationLive } from "./AuthenticationLive.js"
import { AuthLive } from "./AuthHandlers.js"
import { BookingsLive } from "./BookingsHandlers.js"
import { CalendarFeedLive, CalendarLive } from "./CalendarHandlers.js"
import * as Cursor from "./Cursor.js"
import { MetricsRouteLive } from "./MetricsRoute.js"
import { PatientsLive } from "./PatientsHandlers.js"
import { RecordingsLive } from "./RecordingsHandlers.js"

export const ApiLive = HttpApiBuilder.api(ClinicApi).pipe(
  Layer.provide([
    Health.layer(ClinicApi, "api"),
    AuthLive,
    PatientsLive,
    BookingsLive,
    CalendarLive,
    CalendarFeedLive,
    RecordingsLive
  ]),
  Layer.provide(Cursor.layer)
)

/**
 * The API with its error shape, request ids, access log, request metrics (`GET /metrics` with
 * `API_METRICS_TOKEN`), OpenAPI document and docs page, on
 * whatever `HttpServer` is provided (a real port, or `NodeHttpServer.layerTest` in tests).
 */
export const ServeLive = Layer.unwrapEffect(Effect.map(ApiConfig, (config) =>
  HttpApiBuilder.serve((app) =>
    // Without configured origins no CORS headers are sent: browsers keep other sites' pages out.
    config.corsOrigins.length === 0
      ? ErrorShape.serviceMiddleware(app)
      : HttpMiddleware.cors({ allowedOrigins: config.corsOrigins, maxAge: 600 })(ErrorShape.serviceMiddleware(app))
  ))).pipe(
    Layer.provide(ErrorShape.layer(ClinicApi)),
    Layer.provide(
      Layer.unwrapEffect(Effect.map(ApiConfig, (config) => RequestBody.layer(ClinicApi, config.requestBody)))
    ),
    Layer.provide(HttpApiSwagger.layer({ path: "/docs" })),
    Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" })),
    Layer.provide(MetricsRouteLive),
    Layer.provide(ApiLive)
  )

/** The HTTP server on its configured port, with session sign-in; needs the repositories and `ApiConfig`. */
export const HttpLive = ServeLive.pipe(
  Layer.provide(AuthenticationLive),
  HttpServer.withLogAddress,
  Layer.provide(
    Layer.unwrapEffect(
      Effect.map(
        ApiConfig,
        (config) => NodeHttpServer.layer(createHoldingServer, { host: config.host, port: config.port })
      )
    )
  )
)
