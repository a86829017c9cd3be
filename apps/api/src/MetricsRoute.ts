import { Unauthorized } from "@clinic/domain"
import { Metrics } from "@clinic/http"
import { HttpApiBuilder, HttpServerRequest } from "@effect/platform"
import { Effect, Layer, Option, Redacted } from "effect"
import { createHash, timingSafeEqual } from "node:crypto"
import { ApiConfig } from "./ApiConfig.js"

const digest = (value: string) => createHash("sha256").update(value).digest()

/**
 * `GET /metrics`: the process's metrics in the Prometheus text format, for a scraper that sends
 * `Authorization: Bearer <API_METRICS_TOKEN>`. The API's port is public and route-level traffic
 * says something about the practice, so the endpoint exists only with a token set (unset: 404,
 * as for any unknown path). Not part of the clinic's API contract: it is the operator's.
 */
export const MetricsRouteLive = Layer.unwrapEffect(Effect.map(ApiConfig, (config) =>
  Option.match(config.metricsToken, {
    onNone: () => Layer.empty,
    onSome: (token) => {
      const expected = digest(Redacted.value(token))
      const handler = Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        const given = /^Bearer (.+)$/i.exec(request.headers["authorization"] ?? "")?.[1]
        if (given === undefined || !timingSafeEqual(digest(given), expected)) {
          return yield* new Unauthorized({ message: "GET /metrics needs the bearer token API_METRICS_TOKEN" })
        }
        return yield* Metrics.response
      })
      return HttpApiBuilder.Router.use((router) => router.get("/metrics", handler))
    }
  })))
