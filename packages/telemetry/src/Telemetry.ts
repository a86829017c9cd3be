import * as OtlpSerialization from "@effect/opentelemetry/OtlpSerialization"
import * as OtlpTracer from "@effect/opentelemetry/OtlpTracer"
import { FetchHttpClient } from "@effect/platform"
import { Config, Duration, Effect, Layer, Option, Redacted, Tracer } from "effect"

/** `key=value,key=value` with percent-encoded values (OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS). */
const keyValueList = (text: string): Record<string, string> => {
  const entries: Record<string, string> = {}
  for (const pair of text.split(",")) {
    const at = pair.indexOf("=")
    if (at <= 0) continue
    const key = pair.slice(0, at).trim()
    const value = pair.slice(at + 1).trim()
    try {
      entries[key] = decodeURIComponent(value)
    } catch {
      entries[key] = value
    }
  }
  return entries
}

/** The standard OpenTelemetry variables this installation honours; every other `OTEL_*` is ignored. */
const settings = Config.all({
  endpoint: Config.option(Config.string("OTEL_EXPORTER_OTLP_ENDPOINT")),
  tracesEndpoint: Config.option(Config.string("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")),
  protocol: Config.literal("http/protobuf", "http/json")("OTEL_EXPORTER_OTLP_PROTOCOL").pipe(
    Config.withDefault("http/protobuf" as const)
  ),
  // Often an API key of the tracing vendor.
  headers: Config.redacted("OTEL_EXPORTER_OTLP_HEADERS").pipe(
    Config.map((headers) => keyValueList(Redacted.value(headers))),
    Config.withDefault<Record<string, string>>({})
  ),
  serviceName: Config.option(Config.string("OTEL_SERVICE_NAME")),
  resourceAttributes: Config.string("OTEL_RESOURCE_ATTRIBUTES").pipe(
    Config.map(keyValueList),
    Config.withDefault<Record<string, string>>({})
  ),
  /** How long finished spans wait before they are sent (milliseconds, as the SDKs read it). */
  scheduleDelay: Config.integer("OTEL_BSP_SCHEDULE_DELAY").pipe(
    Config.validate({ message: "OTEL_BSP_SCHEDULE_DELAY must be positive", validation: (n) => n > 0 }),
    Config.map(Duration.millis),
    Config.withDefault(Duration.seconds(5))
  ),
  environment: Config.string("NODE_ENV").pipe(Config.withDefault("development"))
}).pipe(
  Config.map(({ endpoint, tracesEndpoint, ...rest }) => ({
    ...rest,
    /** Where spans go; none: no exporter. A signal-specific endpoint is used as is, a base gets `/v1/traces`. */
    tracesUrl: Option.orElse(
      tracesEndpoint,
      () => Option.map(endpoint, (base) => `${base.replace(/\/+$/, "")}/v1/traces`)
    )
  }))
)

/** Trace export settings, read in one place: the OpenTelemetry SDK variables (`OTEL_*`) and `NODE_ENV`. */
export class TelemetryConfig extends Effect.Service<TelemetryConfig>()("@clinic/telemetry/TelemetryConfig", {
  effect: settings
}) {
  /** For `Settings.layer`, which loads it together with the other config services of the app. */
  static readonly load = Effect.map(settings, (values) => TelemetryConfig.make(values))
}

/**
 * Span attributes never sent: they can carry personal data or credentials (a calendar feed URL
 * holds its token, a query string may hold anything, a client address identifies a person) and
 * tracing needs none of them. Request and response headers are dropped too, but for the request id
 * that ties a trace to its log lines.
 */
const withheld = new Set(["url.full", "url.query", "client.address", "user_agent.original"])
const keptHeaders = new Set(["http.request.header.x-request-id", "http.response.header.x-request-id"])

export const isRecorded = (key: string): boolean =>
  !withheld.has(key) &&
  (!(key.startsWith("http.request.header.") || key.startsWith("http.response.header.")) || keptHeaders.has(key))

/** `tracer`, but spans keep only the attributes that `isRecorded` allows, whoever sets them. */
export const withholdingAttributes = (tracer: Tracer.Tracer): Tracer.Tracer =>
  Tracer.make({
    span(name, parent, context, links, startTime, kind, options) {
      const span = tracer.span(name, parent, context, links, startTime, kind, options)
      const set = span.attribute
      return Object.assign(span, {
        attribute(key: string, value: unknown) {
          if (isRecorded(key)) set.call(span, key, value)
        }
      })
    },
    context: tracer.context
  })

/** Who this process is, as its spans say: `service.name` defaults to the app's name. */
export interface Service {
  /** `clinic-api`, `clinic-scheduler`; `OTEL_SERVICE_NAME` overrides it. */
  readonly name: string
  /** The app's `package.json` version. */
  readonly version: string
}

/**
 * The OTLP/HTTP span exporter when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is
 * set; otherwise nothing at all, and spans stay in the process as Effect's own. Provide it below
 * everything else of the app (only what is built after it traces through it); closing it sends what
 * is still buffered.
 */
export const layer = (service: Service): Layer.Layer<never, never, TelemetryConfig> =>
  Layer.unwrapEffect(Effect.map(TelemetryConfig, (config) =>
    Option.match(config.tracesUrl, {
      onNone: () => Layer.empty,
      onSome: (url) =>
        Layer.unwrapScoped(
          OtlpTracer.make({
            url,
            headers: config.headers,
            exportInterval: config.scheduleDelay,
            resource: {
              // OTEL_SERVICE_NAME wins over a service.name among the attributes, as in the SDKs.
              serviceName: Option.getOrElse(
                config.serviceName,
                () => config.resourceAttributes["service.name"] ?? service.name
              ),
              serviceVersion: config.resourceAttributes["service.version"] ?? service.version,
              attributes: { "deployment.environment.name": config.environment, ...config.resourceAttributes }
            }
          }).pipe(Effect.map((tracer) => Layer.setTracer(withholdingAttributes(tracer))))
        ).pipe(
          Layer.provide(
            config.protocol === "http/json" ? OtlpSerialization.layerJson : OtlpSerialization.layerProtobuf
          ),
          Layer.provide(FetchHttpClient.layer)
        )
    })))
