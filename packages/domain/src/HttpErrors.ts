import { HttpApiSchema } from "@effect/platform"
import { Schema } from "effect"

/**
 * What a client sees when the server failed in a way it did not plan for. The cause (stack, SQL)
 * stays in the server's log, which the request id leads to.
 */
export class InternalError extends Schema.TaggedError<InternalError>()(
  "InternalError",
  { message: Schema.String, requestId: Schema.optional(Schema.String) },
  HttpApiSchema.annotations({ status: 500, description: "An unexpected server error; details are only logged" })
) {}

/** No endpoint matches the method and path. */
export class RouteNotFound extends Schema.TaggedError<RouteNotFound>()(
  "RouteNotFound",
  { message: Schema.String, method: Schema.String, path: Schema.String },
  HttpApiSchema.annotations({ status: 404 })
) {}

/** A pagination cursor that this server did not hand out (or that was altered). */
export class InvalidCursor extends Schema.TaggedError<InvalidCursor>()(
  "InvalidCursor",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 400 })
) {}

/** The client stopped sending its request body; the connection is closed. */
export class RequestTimeout extends Schema.TaggedError<RequestTimeout>()(
  "RequestTimeout",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 408 })
) {}

/**
 * The server cannot reach its database (refused, reset, shutting down, timed out): nothing was
 * done, and the same request may be sent again after `Retry-After` seconds.
 */
export class ServiceUnavailable extends Schema.TaggedError<ServiceUnavailable>()(
  "ServiceUnavailable",
  { message: Schema.String, retryAfter: Schema.Int },
  HttpApiSchema.annotations({
    status: 503,
    description: "The database is unreachable for now; retry after the `Retry-After` header's seconds"
  })
) {}
