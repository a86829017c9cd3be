import { Effect } from "effect"

type Method = (...args: ReadonlyArray<unknown>) => Effect.Effect<unknown, unknown, unknown>

/**
 * Wraps every method of the service that `make` builds in a span named `<service>.<method>`: the
 * memory twins of the stores trace under the same names as the Pg ones (which name their spans
 * inline), and a new method cannot be added without one. No attributes: arguments may carry
 * personal data.
 */
export const withMethodSpans = (service: string) => <S extends object, E, R>(make: Effect.Effect<S, E, R>) =>
  Effect.map(make, (built): S =>
    Object.fromEntries(
      Object.entries(built).map(([method, member]) => [
        method,
        // A member may be an effect itself (`listAll`) rather than a function returning one; any
        // other member (a stream of notifications, a constant) is left as it is.
        Effect.isEffect(member)
          ? Effect.withSpan(member, `${service}.${method}`)
          : typeof member === "function"
          ? (...args: ReadonlyArray<unknown>) =>
            Effect.withSpan(Effect.suspend(() => (member as Method)(...args)), `${service}.${method}`)
          : member
      ])
    ) as S)
