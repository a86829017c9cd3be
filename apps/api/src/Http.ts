import { ClinicApi } from "@clinic/domain"
import { HttpApiBuilder, HttpApiSwagger, HttpMiddleware, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { createServer } from "node:http"
import { ApiConfig } from "./ApiConfig.js"
import { AuthLive } from "./AuthHandlers.js"
import { HealthLive } from "./HealthHandlers.js"

export const ApiLive = HttpApiBuilder.api(ClinicApi).pipe(
  Layer.provide(HealthLive),
  Layer.provide(AuthLive)
)

/** The HTTP server with the API, its OpenAPI document and docs page; needs the repositories. */
export const HttpLive = HttpApiBuilder.serve(HttpMiddleware.logger).pipe(
  Layer.provide(HttpApiSwagger.layer({ path: "/docs" })),
  Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" })),
  Layer.provide(ApiLive),
  HttpServer.withLogAddress,
  Layer.provide(
    Layer.unwrapEffect(
      Effect.map(ApiConfig, (config) => NodeHttpServer.layer(createServer, { host: config.host, port: config.port }))
    )
  ),
  Layer.provide(ApiConfig.Default)
)
