import { InternalError, RouteNotFound, ServiceUnavailable } from "@clinic/domain"
import {
  HttpApi,
  HttpApiBuilder,
  HttpApiEndpoint,
  HttpApiGroup,
  HttpApiSchema,
  HttpClient,
  HttpClientRequest
} from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { SqlError } from "@effect/sql/SqlError"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Logger, Schema } from "effect"
import * as ErrorShape from "../src/ErrorShape.js"

class Conflict extends Schema.TaggedError<Conflict>()(
  "Conflict",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}

const systemError = (code: string, message: string) => Object.assign(new Error(message), { code })

/** What `pg` reports for each fault: the cause of the `SqlError` a repository turns into a defect. */
const faults: Record<string, { readonly cause: unknown; readonly status: number }> = {
  refused: { cause: systemError("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:5432"), status: 503 },
  reset: { cause: systemError("ECONNRESET", "read ECONNRESET"), status: 503 },
  shuttingDown: { cause: systemError("57P03", "the database system is shutting down"), status: 503 },
  adminShutdown: { cause: systemError("57P01", "terminating connection due to administrator command"), status: 503 },
  crashShutdown: {
    cause: systemError("57P02", "terminating connection because of crash of another server process"),
    status: 503
  },
  connectionFailure: { cause: systemError("08006", "connection failure"), status: 503 },
  tooManyConnections: { cause: systemError("53300", "sorry, too many clients already"), status: 503 },
  statementTimeout: { cause: systemError("57014", "canceling statement due to statement timeout"), status: 503 },
  terminated: { cause: new Error("Connection terminated unexpectedly"), status: 503 },
  connectTimeout: { cause: new Error("Connection terminated due to connection timeout"), status: 503 },
  poolTimeout: { cause: new Error("timeout exceeded when trying to connect"), status: 503 },
  readTimeout: { cause: new Error("Query read timeout"), status: 503 },
  uniqueViolation: { cause: systemError("23505", "duplicate key value violates unique constraint"), status: 500 },
  syntaxError: { cause: systemError("42601", "syntax error at or near"), status: 500 }
}

class Things extends HttpApiGroup.make("things")
  .add(
    HttpApiEndpoint.get("get", "/things/:n").setPath(Schema.Struct({ n: Schema.NumberFromString })).addSuccess(
      Schema.Struct({ n: Schema.Number })
    )
  )
  .add(HttpApiEndpoint.get("broken", "/broken").addSuccess(Schema.String))
  .add(
    HttpApiEndpoint.get("database", "/database/:fault").setPath(Schema.Struct({ fault: Schema.String })).addSuccess(
      Schema.String
    ).addError(Conflict)
  )
{}

class TestApi extends HttpApi.make("test").add(Things).addError(InternalError).addError(RouteNotFound).addError(
  ServiceUnavailable
) {}

const ThingsLive = HttpApiBuilder.group(TestApi, "things", (handlers) =>
  handlers
    .handle("get", ({ path }) => Effect.succeed({ n: path.n }))
    .handle("broken", () => Effect.die(new Error("password=hunter2 in the SQL")))
    .handle("database", ({ path }) =>
      path.fault === "domain"
        ? Effect.fail(new Conflict({ message: "a domain error" }))
        : Effect.die(new SqlError({ cause: faults[path.fault].cause, message: "Failed to execute statement" }))))

const logged: Array<string> = []
const capture = Logger.replace(
  Logger.defaultLogger,
  Logger.make(({ annotations, cause, message }) => {
    logged.push(JSON.stringify({ message, annotations: Object.fromEntries(annotations), cause: String(cause) }))
  })
)

const server = HttpApiBuilder.serve(ErrorShape.serviceMiddleware).pipe(
  Layer.provide(ErrorShape.layer(TestApi)),
  Layer.provide(HttpApiBuilder.api(TestApi).pipe(Layer.provide(ThingsLive))),
  Layer.provideMerge(NodeHttpServer.layerTest),
  Layer.provide(capture)
)

const call = (path: string, headers: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const response = yield* HttpClient.execute(HttpClientRequest.get(path).pipe(HttpClientRequest.setHeaders(headers)))
    return {
      status: response.status,
      headers: response.headers,
      body: (yield* response.json) as any // eslint-disable-line @typescript-eslint/no-explicit-any -- the raw JSON a client reads, field by field
    }
  })

describe("ErrorShape", () => {
  it.live("one JSON shape: named decode errors, RouteNotFound, sanitized InternalError; request ids echoed", () =>
    Effect.gen(function*() {
      const ok = yield* call("/things/3", { "x-request-id": "req-1" })
      assert.deepStrictEqual([ok.status, ok.body, ok.headers["x-request-id"]], [200, { n: 3 }, "req-1"])

      const invalid = yield* call("/things/three")
      assert.strictEqual(invalid.status, 400)
      assert.strictEqual(invalid.body._tag, "HttpApiDecodeError")
      assert.match(invalid.body.message, /^n: /)

      const missing = yield* call("/nothing")
      assert.strictEqual(missing.status, 404)
      assert.deepStrictEqual(missing.body, {
        _tag: "RouteNotFound",
        message: "No endpoint for GET /nothing",
        method: "GET",
        path: "/nothing"
      })

      const broken = yield* call("/broken", { "x-request-id": "bad id with spaces" })
      assert.strictEqual(broken.status, 500)
      const requestId = broken.headers["x-request-id"]
      assert.match(requestId, /^[0-9a-f-]{36}$/)
      assert.deepStrictEqual(broken.body, {
        _tag: "InternalError",
        message: "The server failed to handle this request; it has been logged",
        requestId
      })
      assert.notInclude(JSON.stringify(broken.body), "hunter2")
      const line = logged.find((entry) => entry.includes("request failed unexpectedly"))
      assert.include(line!, "hunter2")
      assert.include(line!, requestId)
    }).pipe(Effect.provide(server)))

  it.live("a connection-class database failure is a 503 with Retry-After; others stay 500, domain errors stay theirs", () =>
    Effect.gen(function*() {
      for (const [fault, { status }] of Object.entries(faults)) {
        const response = yield* call(`/database/${fault}`)
        assert.strictEqual(response.status, status, fault)
        if (status === 503) {
          assert.strictEqual(response.body._tag, "ServiceUnavailable", fault)
          assert.strictEqual(response.headers["retry-after"], String(ErrorShape.RETRY_AFTER_SECONDS), fault)
          assert.strictEqual(response.body.retryAfter, ErrorShape.RETRY_AFTER_SECONDS)
        } else {
          assert.strictEqual(response.body._tag, "InternalError", fault)
          assert.isUndefined(response.headers["retry-after"], fault)
        }
      }
      const domain = yield* call("/database/domain")
      assert.deepStrictEqual([domain.status, domain.body._tag, domain.headers["retry-after"]], [
        409,
        "Conflict",
        undefined
      ])
    }).pipe(Effect.provide(server)))
})
