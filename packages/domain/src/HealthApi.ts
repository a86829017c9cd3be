import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { docs } from "./OpenApiDocs.js"

export class Health extends Schema.Class<Health>("Health")({
  status: Schema.Literal("ok"),
  service: Schema.String
}) {}

export class NotReady extends Schema.TaggedError<NotReady>()(
  "NotReady",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 503 })
) {}

/** Liveness (`/health`: the process answers) and readiness (`/ready`: its database answers too). */
export class HealthApi extends HttpApiGroup.make("health")
  .add(
    HttpApiEndpoint.get("health", "/health").addSuccess(Health).annotateContext(
      docs("Liveness", "200 while the process answers; it does not touch the database. No token needed.")
    )
  )
  .add(
    HttpApiEndpoint.get("ready", "/ready").addSuccess(Health).addError(NotReady).annotateContext(docs(
      "Readiness",
      "200 when the database answers too, 503 `NotReady` otherwise: what a load balancer routes by. No token needed."
    ))
  )
  .annotate(OpenApi.Description, "Liveness and readiness probes.")
{}
