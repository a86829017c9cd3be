import { InternalError, RouteNotFound } from "@clinic/domain"
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup, HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Logger, Schema } from "effect"
import * as ErrorShape from "../src/ErrorShape.js"

class Things extends HttpApiGroup.make("things")
  .add(
    HttpApiEndpoint.get("get", "/things/:n").setPath(Schema.Struct({ n: Schema.NumberFromString })).addSuccess(
      Schema.Struct({ n: Schema.Number })
    )
  )
  .add(HttpApiEndpoint.get("broken", "/broken").addSuccess(Schema.String))
{}

class TestApi extends HttpApi.make("test").add(Things).addError(InternalError).addError(RouteNotFound) {}

const ThingsLive = HttpApiBuilder.group(TestApi, "things", (handlers) =>
  handlers
    .handle("get", ({ path }) => Effect.succeed({ n: path.n }))
    .handle("broken", () => Effect.die(new Error("password=hunter2 in the SQL"))))

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
})
