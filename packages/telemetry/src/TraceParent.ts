import { Headers, HttpTraceContext } from "@effect/platform"
import { Effect, Option, type Tracer } from "effect"

/**
 * A W3C `traceparent` value (`00-<trace id>-<span id>-<flags>`): how a span's context is kept on a
 * stored row (an outbox event, a task), so that the work the row starts later, in any process,
 * continues the trace that wrote it. Effect's spans carry no `tracestate`, so none is kept.
 */
export type TraceParent = string

const format = (span: Tracer.AnySpan): Option.Option<TraceParent> => {
  const value = `00-${span.traceId}-${span.spanId}-${span.sampled ? "01" : "00"}`
  // A span of a fiber whose tracing is turned off has no real ids: nothing to continue.
  return Option.isSome(parse(value)) ? Option.some(value) : Option.none()
}

/** The current span's context, for a row written now; null outside any span. */
export const current: Effect.Effect<TraceParent | null> = Effect.map(
  Effect.option(Effect.currentParentSpan),
  (span) => Option.getOrNull(Option.flatMap(span, format))
)

/** The span a stored `traceparent` names; none for null or a malformed value. */
export const parse = (traceParent: TraceParent | null): Option.Option<Tracer.ExternalSpan> =>
  traceParent === null ? Option.none() : HttpTraceContext.w3c(Headers.unsafeFromRecord({ traceparent: traceParent }))

/**
 * Span options that make a span the child of the stored context: `Effect.withSpan(name,
 * { ...TraceParent.childOf(row.traceParent), attributes })`. A row without one starts no link.
 */
export const childOf = (traceParent: TraceParent | null): { readonly parent?: Tracer.AnySpan } =>
  Option.match(parse(traceParent), { onNone: () => ({}), onSome: (parent) => ({ parent }) })
