import { Effect, type Exit, Tracer } from "effect"

/**
 * Runs `effect` under a tracer that notes the name of every span it starts (and still hands each
 * span to the real tracer): for tests that check a method is traced, and under which name.
 */
export const recordSpanNames = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<{ readonly exit: Exit.Exit<A, E>; readonly names: ReadonlyArray<string> }, never, R> =>
  Effect.gen(function*() {
    const names: Array<string> = []
    const base = yield* Effect.tracer
    const recording = Tracer.make({
      span: (name, ...rest) => {
        names.push(name)
        return base.span(name, ...rest)
      },
      context: base.context
    })
    const exit = yield* Effect.exit(Effect.withTracer(effect, recording))
    return { exit, names }
  })
