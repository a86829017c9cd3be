import {
  InternalError,
  PayloadTooLarge,
  RequestTimeout,
  RouteNotFound,
  ServiceUnavailable,
  UnsupportedMediaType
} from "@clinic/domain"
import { Promtool } from "@clinic/testing"
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup, HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Metric, MetricBoundaries, Schema } from "effect"
import * as ErrorShape from "../src/ErrorShape.js"
import * as Metrics from "../src/Metrics.js"
import * as RequestBody from "../src/RequestBody.js"

class Probes extends HttpApiGroup.make("probes")
  .add(
    HttpApiEndpoint.get("get", "/metrics-probe/:n").setPath(Schema.Struct({ n: Schema.NumberFromString }))
      .addSuccess(Schema.Struct({ n: Schema.Number }))
  )
  .add(
    HttpApiEndpoint.post("post", "/metrics-probe/:n").setPath(Schema.Struct({ n: Schema.NumberFromString }))
      .setPayload(Schema.Struct({ note: Schema.String }))
      .addSuccess(Schema.Struct({ n: Schema.Number }))
  )
{}

class TestApi extends HttpApi.make("test").add(Probes)
  .addError(InternalError)
  .addError(RouteNotFound)
  .addError(ServiceUnavailable)
  .addError(PayloadTooLarge)
  .addError(UnsupportedMediaType)
  .addError(RequestTimeout)
{}

const ProbesLive = HttpApiBuilder.group(TestApi, "probes", (handlers) =>
  handlers
    .handle("get", ({ path }) => Effect.succeed({ n: path.n }))
    .handle("post", ({ path }) => Effect.succeed({ n: path.n })))

const server = HttpApiBuilder.serve(ErrorShape.serviceMiddleware).pipe(
  Layer.provide(ErrorShape.layer(TestApi)),
  Layer.provide(RequestBody.layer(TestApi)),
  Layer.provide(HttpApiBuilder.api(TestApi).pipe(Layer.provide(ProbesLive))),
  Layer.provideMerge(NodeHttpServer.layerTest)
)

const status = (request: HttpClientRequest.HttpClientRequest) =>
  Effect.map(HttpClient.execute(request), (response) => response.status)

/** The value of the one sample `series` (name and labels, as written) in `text`. */
const sample = (text: string, series: string) => {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

describe("Metrics", () => {
  it.live("requests are counted and timed by method, route template and status; unmatched paths share one label", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* status(HttpClientRequest.get("/metrics-probe/1")), 200)
      assert.strictEqual(yield* status(HttpClientRequest.get("/metrics-probe/2")), 200)
      assert.strictEqual(yield* status(HttpClientRequest.get("/metrics-probe/two")), 400)
      assert.strictEqual(yield* status(HttpClientRequest.get("/no-such-probe/1")), 404)
      assert.strictEqual(yield* status(HttpClientRequest.get("/no-such-probe/2")), 404)
      // Refused by the body guard before the router ran: still counted under its route.
      assert.strictEqual(
        yield* status(HttpClientRequest.post("/metrics-probe/3").pipe(HttpClientRequest.bodyText("hi", "text/plain"))),
        415
      )

      const text = yield* Metrics.exposition
      yield* Promtool.checkMetrics(text)
      const count = (labels: string) => sample(text, `clinic_http_request_duration_seconds_count{${labels}}`)
      assert.strictEqual(count(`method="GET",route="/metrics-probe/:n",status="200"`), 2)
      assert.strictEqual(count(`method="GET",route="/metrics-probe/:n",status="400"`), 1)
      assert.strictEqual(count(`method="POST",route="/metrics-probe/:n",status="415"`), 1)
      assert.isAtLeast(count(`method="GET",route="unmatched",status="404"`) ?? 0, 2)
      // Raw paths never become labels.
      assert.notInclude(text, "/metrics-probe/1")
      assert.notInclude(text, "/no-such-probe")
      assert.strictEqual(
        sample(
          text,
          `clinic_http_request_duration_seconds_bucket{method="GET",route="/metrics-probe/:n",status="200",le="+Inf"}`
        ),
        2
      )
    }).pipe(Effect.provide(server)))

  it.effect("Effect metrics of every kind, with prom-client's process metrics, pass promtool", () =>
    Effect.gen(function*() {
      const runs = Metric.counter("metrics_test_runs_total", { description: "Runs", incremental: true })
      yield* Metric.incrementBy(Metric.tagged(runs, "name", "a\"b\\c\nd"), 3)
      yield* Metric.set(Metric.gauge("metrics_test_level", { description: "A level" }), -2.5)
      const seconds = Metric.histogram(
        "metrics_test_seconds",
        MetricBoundaries.fromIterable([0.005, 0.01, 0.1, 1, 10]),
        "A duration"
      )
      for (const value of [0.004, 0.05, 0.05, 20]) yield* Metric.update(Metric.tagged(seconds, "kind", "x"), value)
      yield* Metric.update(
        Metric.summary({
          name: "metrics_test_sizes",
          description: "Sizes",
          maxAge: "1 minute",
          maxSize: 10,
          error: 0.01,
          quantiles: [0.5]
        }),
        4
      )

      const text = yield* Metrics.exposition
      yield* Promtool.checkMetrics(text)
      assert.include(text, "# HELP metrics_test_runs_total Runs\n# TYPE metrics_test_runs_total counter\n")
      assert.strictEqual(sample(text, `metrics_test_runs_total{name="a\\"b\\\\c\\nd"}`), 3)
      assert.strictEqual(sample(text, "metrics_test_level"), -2.5)
      // Buckets in boundary order, cumulative, then sum and count.
      const buckets = text.split("\n").filter((l) => l.startsWith("metrics_test_seconds_bucket"))
      assert.deepStrictEqual(buckets, [
        `metrics_test_seconds_bucket{kind="x",le="0.005"} 1`,
        `metrics_test_seconds_bucket{kind="x",le="0.01"} 1`,
        `metrics_test_seconds_bucket{kind="x",le="0.1"} 3`,
        `metrics_test_seconds_bucket{kind="x",le="1"} 3`,
        `metrics_test_seconds_bucket{kind="x",le="10"} 3`,
        `metrics_test_seconds_bucket{kind="x",le="+Inf"} 4`
      ])
      assert.strictEqual(sample(text, `metrics_test_seconds_count{kind="x"}`), 4)
      assert.strictEqual(sample(text, `metrics_test_sizes{quantile="0.5"}`), 4)
      // The process and the event loop, from prom-client's default metrics.
      assert.include(text, "# TYPE process_cpu_seconds_total counter")
      assert.include(text, "# TYPE process_resident_memory_bytes gauge")
      assert.include(text, "# TYPE nodejs_eventloop_lag_seconds gauge")
      assert.include(text, "# TYPE nodejs_eventloop_lag_p99_seconds gauge")
    }))

  it.effect("promtool refuses what it should: the check can fail", () =>
    Effect.gen(function*() {
      const refused = yield* Effect.flip(Promtool.checkMetrics("# TYPE bad_counter counter\nbad_counter 1\n"))
      assert.match(refused.message, /_total/)
    }))
})
