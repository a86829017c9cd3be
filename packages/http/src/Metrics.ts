import type { HttpApp } from "@effect/platform"
import { HttpServerError, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import type { MetricPair } from "effect"
import { Context, Effect, GlobalValue, Metric, MetricBoundaries, MetricKeyType, MetricLabel, MetricState } from "effect"
import * as Prometheus from "prom-client"

/**
 * Every metric of the apps is an Effect `Metric` (counters, gauges, histograms defined beside the
 * code that records them); `exposition` renders them, with prom-client's process and event-loop
 * metrics, in the Prometheus text format through prom-client's registry.
 */

/** The `Content-Type` of `exposition` (Prometheus text format 0.0.4). */
export const contentType: string = Prometheus.Registry.PROMETHEUS_CONTENT_TYPE

/**
 * Served requests by method, route template (`/patients/:id`; `unmatched` for paths no route
 * takes), and status; the histogram's `_count` is the request counter.
 */
export const requestDuration = Metric.histogram(
  "clinic_http_request_duration_seconds",
  MetricBoundaries.fromIterable([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120]),
  "HTTP requests served, by method, route template and status, with their duration in seconds"
)

/** The `route` of requests that no route took (and of any that failed before routing). */
export const UNMATCHED = "unmatched"

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])

// One label array per method, route and status (a bounded set): Effect caches a metric's series by
// the identity of the label array, so a request's update is a map lookup and a bucket increment.
const labelCache = new Map<string, ReadonlyArray<MetricLabel.MetricLabel>>()
const labelsFor = (method: string, route: string, status: number) => {
  const key = `${method} ${status} ${route}`
  let labels = labelCache.get(key)
  if (labels === undefined) {
    labels = [
      MetricLabel.make("method", method),
      MetricLabel.make("route", route),
      MetricLabel.make("status", String(status))
    ]
    labelCache.set(key, labels)
  }
  return labels
}

/**
 * Times every request into `requestDuration`. The route template is the `http.route` attribute
 * that the platform's router (or the request body guard, for a body it refuses before routing)
 * puts on the request's server span, so it is the route the router really chose; a request that
 * no route took has none and counts as `unmatched`. Must run inside the server span, as the
 * middleware given to `HttpApiBuilder.serve` does.
 */
export const recordRequests = <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<E, R> =>
  Effect.withFiberRuntime((fiber) => {
    const span = fiber.currentSpan
    const request = Context.unsafeGet(fiber.currentContext, HttpServerRequest.HttpServerRequest)
    const method = METHODS.has(request.method) ? request.method : "other"
    return Effect.clockWith((clock) => {
      const start = clock.unsafeCurrentTimeNanos()
      return Effect.onExit(app, (exit) =>
        Effect.sync(() => {
          const route = span?._tag === "Span" ? span.attributes.get("http.route") : undefined
          const status = exit._tag === "Success" ? exit.value.status : HttpServerError.exitResponse(exit).status
          const seconds = Number(clock.unsafeCurrentTimeNanos() - start) / 1e9
          // `unsafeUpdate` with the cached labels skips `Metric.update`'s per-call label merging.
          requestDuration.unsafeUpdate(
            seconds,
            labelsFor(method, typeof route === "string" ? route : UNMATCHED, status)
          )
        }))
    })
  })

type Sample = { readonly labels: Record<string, string>; readonly value: number; readonly metricName?: string }

/**
 * One family of Effect metrics (all series of one name) as prom-client's registry reads a metric:
 * `get()` gives its type, help and samples, and the registry writes the text.
 */
class EffectFamily {
  readonly aggregator = "sum"
  samples: Array<Sample> = []
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: "counter" | "gauge" | "histogram" | "summary"
  ) {}
  get() {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.samples }
  }
  reset() {
    this.samples = []
  }
}

const typeOf = (pair: MetricPair.MetricPair.Untyped): EffectFamily["type"] | undefined => {
  const keyType = pair.metricKey.keyType
  if (MetricKeyType.isCounterKey(keyType)) return keyType.incremental ? "counter" : "gauge"
  if (MetricKeyType.isGaugeKey(keyType)) return "gauge"
  if (MetricKeyType.isHistogramKey(keyType)) return "histogram"
  if (MetricKeyType.isSummaryKey(keyType)) return "summary"
  if (MetricKeyType.isFrequencyKey(keyType)) return "counter"
  return undefined
}

const samplesOf = (name: string, pair: MetricPair.MetricPair.Untyped): Array<Sample> => {
  const labels: Record<string, string> = {}
  for (const tag of pair.metricKey.tags) labels[tag.key] = tag.value
  const state = pair.metricState
  if (MetricState.isCounterState(state)) return [{ labels, value: Number(state.count) }]
  if (MetricState.isGaugeState(state)) return [{ labels, value: Number(state.value) }]
  if (MetricState.isHistogramState(state)) {
    // Effect's buckets are cumulative, in boundary order, and end with +Inf.
    const buckets = state.buckets.map(([boundary, count]): Sample => ({
      metricName: `${name}_bucket`,
      labels: { ...labels, le: boundary === Number.POSITIVE_INFINITY ? "+Inf" : String(boundary) },
      value: count
    }))
    return [
      ...buckets,
      { metricName: `${name}_sum`, labels, value: state.sum },
      { metricName: `${name}_count`, labels, value: state.count }
    ]
  }
  if (MetricState.isSummaryState(state)) {
    const quantiles = state.quantiles.flatMap(([quantile, value]): Array<Sample> =>
      value._tag === "Some" ? [{ labels: { ...labels, quantile: String(quantile) }, value: value.value }] : []
    )
    return [
      ...quantiles,
      { metricName: `${name}_sum`, labels, value: state.sum },
      { metricName: `${name}_count`, labels, value: state.count }
    ]
  }
  if (MetricState.isFrequencyState(state)) {
    return [...state.occurrences].map(([key, count]) => ({ labels: { ...labels, key }, value: count }))
  }
  return []
}

interface Exporter {
  readonly registry: Prometheus.Registry
  readonly families: Map<string, EffectFamily>
}

// Once per process, made on the first scrape: the default metrics' event-loop monitor and GC
// observer then run for the life of the process.
const exporter = () =>
  GlobalValue.globalValue(Symbol.for("@clinic/http/Metrics/exporter"), (): Exporter => {
    const registry = new Prometheus.Registry()
    Prometheus.collectDefaultMetrics({ register: registry })
    // Gauges named like counters (promtool refuses them); `nodejs_active_handles` and the others
    // give the same counts by type.
    for (
      const name of ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"]
    ) {
      registry.removeSingleMetric(name)
    }
    return { registry, families: new Map() }
  })

/**
 * The process's metrics in the Prometheus text format: every Effect metric, and prom-client's
 * default process and Node.js metrics (CPU, memory, event-loop lag, GC, handles).
 */
export const exposition: Effect.Effect<string> = Effect.suspend(() => {
  const { families, registry } = exporter()
  for (const family of families.values()) family.reset()
  for (const pair of Metric.unsafeSnapshot()) {
    const type = typeOf(pair)
    if (type === undefined) continue
    // A counter's name ends in `_total` (Effect's own fiber counters do not), as OpenMetrics
    // and the OpenTelemetry exporter also write it.
    const name = type === "counter" && !pair.metricKey.name.endsWith("_total")
      ? `${pair.metricKey.name}_total`
      : pair.metricKey.name
    let family = families.get(name)
    if (family === undefined) {
      family = new EffectFamily(
        name,
        pair.metricKey.description._tag === "Some" ? pair.metricKey.description.value : name,
        type
      )
      families.set(name, family)
      // prom-client's registry takes any object with its metrics' `get()`; its types list only its own classes.
      registry.registerMetric(family as unknown as Prometheus.Metric)
    }
    family.samples.push(...samplesOf(name, pair))
  }
  return Effect.promise(() => registry.metrics())
})

/** `exposition` as a `200 text/plain; version=0.0.4` response. */
export const response: Effect.Effect<HttpServerResponse.HttpServerResponse> = Effect.map(
  exposition,
  (text) => HttpServerResponse.text(text, { contentType })
)
