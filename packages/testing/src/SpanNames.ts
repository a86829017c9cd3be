import { Cause, Effect, Exit, Stream, Tracer } from "effect"

/**
 * Runs `effect` under a tracer that keeps every span it starts (and still hands each span to the
 * real tracer): for tests that read what spans say, their attributes and how they ended.
 */
export const recordSpans = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<{ readonly exit: Exit.Exit<A, E>; readonly spans: ReadonlyArray<Tracer.Span> }, never, R> =>
  Effect.gen(function*() {
    const spans: Array<Tracer.Span> = []
    const base = yield* Effect.tracer
    const recording = Tracer.make({
      span: (...args) => {
        const span = base.span(...args)
        spans.push(span)
        return span
      },
      context: base.context
    })
    const exit = yield* Effect.exit(Effect.withTracer(effect, recording))
    return { exit, spans }
  })

/**
 * Everything a span tells an exporter, as one string: its name, its attributes and, when it ended
 * in failure, the failure with its messages (exported as the span's status and exception event).
 * What tests search for personal data.
 */
export const spanText = (span: Tracer.Span): string =>
  JSON.stringify({
    name: span.name,
    attributes: Object.fromEntries(span.attributes),
    failure: span.status._tag === "Ended" && Exit.isFailure(span.status.exit)
      ? Cause.pretty(span.status.exit.cause, { renderErrorCause: true })
      : null
  })

/** `recordSpans`, for tests that check a method is traced and under which name. */
export const recordSpanNames = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<{ readonly exit: Exit.Exit<A, E>; readonly names: ReadonlyArray<string> }, never, R> =>
  Effect.map(recordSpans(effect), ({ exit, spans }) => ({ exit, names: spans.map((span) => span.name) }))

/** How `methodSpanProblems` calls a service's methods. */
export interface MethodCalls {
  /** Arguments of the methods that read theirs before their span starts; the others get none. */
  readonly args?: Readonly<Record<string, ReadonlyArray<unknown>>>
  /** Members that are plain functions (no effect, so no span): a view of a value, a predicate. */
  readonly pure?: ReadonlyArray<string>
}

/**
 * Calls every method of a built service (each own member that is a function or an effect, but the
 * `pure` ones) and returns what is wrong with its spans: a method that starts no span named
 * `<service>.<method>`, or starts it more than once (a span nested in another of the same name).
 * Whether a call fails does not matter, only that it is traced, so most methods need no arguments;
 * a returned stream is run. A method added later is checked without anyone listing it.
 */
export const methodSpanProblems = <R = never>(
  service: string,
  built: object,
  calls: MethodCalls = {}
): Effect.Effect<ReadonlyArray<string>, never, R> =>
  Effect.gen(function*() {
    const problems: Array<string> = []
    const methods = Object.entries(built).filter(([method, member]) =>
      (Effect.isEffect(member) || typeof member === "function") && !calls.pure?.includes(method)
    )
    if (methods.length === 0) problems.push(`${service} has no methods`)
    for (const pure of calls.pure ?? []) {
      if (typeof (built as Record<string, unknown>)[pure] !== "function") {
        problems.push(`${service}.${pure} is no function`)
      }
    }
    for (const [method, member] of methods) {
      const name = `${service}.${method}`
      const call = Effect.isEffect(member)
        ? member
        : Effect.suspend(() => {
          const result = (member as (...args: ReadonlyArray<unknown>) => unknown)(...(calls.args?.[method] ?? []))
          // A method that returns a stream (a file's bytes) is traced when the stream runs.
          return (typeof result === "object" && result !== null && Stream.StreamTypeId in result
            ? Stream.runDrain(result as Stream.Stream<unknown, unknown, R>)
            : result) as Effect.Effect<unknown, unknown, R>
        })
      const { names } = yield* recordSpanNames(call as Effect.Effect<unknown, unknown, R>)
      const count = names.filter((started) => started === name).length
      if (count !== 1) problems.push(`${name} started ${count} spans of its name (spans: ${names.join(", ")})`)
    }
    return problems
  })
