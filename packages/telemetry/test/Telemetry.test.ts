import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Option } from "effect"
import { TelemetryConfig } from "../src/Telemetry.js"
import * as Telemetry from "../src/Telemetry.js"
import * as OtlpReceiver from "../src/testing/OtlpReceiver.js"
import * as TraceParent from "../src/TraceParent.js"

const service = { name: "clinic-test", version: "1.2.3" }

/** Runs `program` under the telemetry layer built from `env` alone, then closes it (which sends what is buffered). */
const traced = <A, E>(env: Record<string, string>, program: Effect.Effect<A, E>) =>
  Effect.provide(
    program,
    Telemetry.layer(service).pipe(
      Layer.provide(Layer.effect(TelemetryConfig, TelemetryConfig.load)),
      Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))
    )
  )

describe("Telemetry", () => {
  it.live("exports spans as OTLP/HTTP JSON with the app's resource, parents kept", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make
      yield* traced(
        {
          OTEL_EXPORTER_OTLP_ENDPOINT: `${receiver.endpoint}/`,
          OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
          OTEL_EXPORTER_OTLP_HEADERS: "x-api-key=s%3Dcret",
          OTEL_RESOURCE_ATTRIBUTES: "k8s.pod.name=api-7,deployment.environment.name=staging",
          NODE_ENV: "production"
        },
        Effect.void.pipe(Effect.withSpan("child"), Effect.withSpan("parent"))
      )
      const requests = yield* receiver.requests
      assert.deepStrictEqual(requests.map((r) => r.path), ["/v1/traces"])
      assert.strictEqual(requests[0].headers["x-api-key"], "s=cret")
      const spans = yield* receiver.spans
      const child = spans.find((s) => s.name === "child")!
      const parent = spans.find((s) => s.name === "parent")!
      assert.strictEqual(child.parentSpanId, parent.spanId)
      assert.strictEqual(child.traceId, parent.traceId)
      assert.deepInclude(child.resource, {
        "service.name": "clinic-test",
        "service.version": "1.2.3",
        "k8s.pod.name": "api-7",
        // OTEL_RESOURCE_ATTRIBUTES wins over NODE_ENV.
        "deployment.environment.name": "staging"
      })
    }).pipe(Effect.scoped))

  it.live("takes the service name from OTEL_SERVICE_NAME and the environment from NODE_ENV", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make
      yield* traced(
        {
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.endpoint}/custom/traces`,
          OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
          OTEL_SERVICE_NAME: "clinic-api-eu",
          NODE_ENV: "production"
        },
        Effect.withSpan(Effect.void, "work")
      )
      const [span] = yield* receiver.spans
      assert.strictEqual((yield* receiver.requests)[0].path, "/custom/traces")
      assert.deepInclude(span.resource, {
        "service.name": "clinic-api-eu",
        "deployment.environment.name": "production"
      })
    }).pipe(Effect.scoped))

  it.live("sends protobuf unless told otherwise, as the OTLP/HTTP default", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make
      yield* traced({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint }, Effect.withSpan(Effect.void, "work"))
      const requests = yield* receiver.requests
      assert.strictEqual(requests.length, 1)
      assert.strictEqual(requests[0].contentType, "application/x-protobuf")
      assert.isAbove(requests[0].bytes, 0)
    }).pipe(Effect.scoped))

  it.live("never sends attributes that can carry personal data or credentials", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make
      yield* traced(
        { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" },
        Effect.void.pipe(
          Effect.withSpan("http.server GET", {
            attributes: {
              "http.request.method": "GET",
              "url.path": "/bookings",
              "url.full": "http://127.0.0.1/bookings?patient=Pat",
              "url.query": "patient=Pat",
              "client.address": "203.0.113.7",
              "user_agent.original": "Mozilla/5.0",
              "http.request.header.authorization": "<redacted>",
              "http.request.header.x-request-id": "req-1",
              "http.response.header.set-cookie": "<redacted>"
            }
          }),
          Effect.tap(() => Effect.annotateCurrentSpan("client.address", "203.0.113.8")),
          Effect.withSpan("outer")
        )
      )
      const span = (yield* receiver.spans).find((s) => s.name === "http.server GET")!
      assert.deepStrictEqual(span.attributes, {
        "http.request.method": "GET",
        "url.path": "/bookings",
        "http.request.header.x-request-id": "req-1"
      })
      const outer = (yield* receiver.spans).find((s) => s.name === "outer")!
      assert.deepStrictEqual(outer.attributes, {})
    }).pipe(Effect.scoped))

  it.live("without an endpoint builds no exporter: spans stay Effect's own and nothing is sent", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make
      const before = yield* Effect.tracer
      const inside = yield* traced(
        // The receiver is up, but only the endpoint variable would point at it.
        { OTEL_EXPORTER_OTLP_PROTOCOL: "http/json", OTEL_SERVICE_NAME: "clinic-test" },
        Effect.tracer.pipe(Effect.withSpan("work"))
      )
      assert.strictEqual(inside, before)
      assert.deepStrictEqual(yield* receiver.requests, [])
    }).pipe(Effect.scoped))

  it.effect("reads the settings in one place and reports a bad one by its variable", () =>
    Effect.gen(function*() {
      const result = yield* TelemetryConfig.load.pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"]]))),
        Effect.flip
      )
      assert.include(String(result), "OTEL_EXPORTER_OTLP_PROTOCOL")
      const defaults = yield* TelemetryConfig.load.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map())))
      assert.isTrue(Option.isNone(defaults.tracesUrl))
    }))
})

describe("TraceParent", () => {
  it.effect("is the current span's W3C context, and a child of it continues the trace", () =>
    Effect.gen(function*() {
      const outside = yield* TraceParent.current
      assert.isNull(outside)
      const [stored, span] = yield* Effect.all([TraceParent.current, Effect.currentSpan]).pipe(Effect.withSpan("write"))
      assert.strictEqual(stored, `00-${span.traceId}-${span.spanId}-01`)
      const continued = yield* Effect.currentSpan.pipe(Effect.withSpan("later", TraceParent.childOf(stored)))
      assert.strictEqual(continued.traceId, span.traceId)
      assert.strictEqual(Option.getOrThrow(continued.parent).spanId, span.spanId)
    }))

  it.effect("a missing or malformed value starts no link", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(TraceParent.childOf(null), {})
      assert.deepStrictEqual(TraceParent.childOf("00-nothex-0000000000000001-01"), {})
      assert.isTrue(Option.isNone(TraceParent.parse("garbage")))
      const root = yield* Effect.currentSpan.pipe(Effect.withSpan("later", TraceParent.childOf("garbage")))
      assert.isTrue(Option.isNone(root.parent))
    }))
})
