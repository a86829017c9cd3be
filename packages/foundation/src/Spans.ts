import { Effect } from "effect"

type Method = (...args: ReadonlyArray<unknown>) => Effect.Effect<unknown, unknown, unknown>

/**
 * Wraps every method of the service that `make` builds in a span named `<service>.<method>`: the
 * memory twins of the stores trace under the same names as the Pg ones (which name their spans
 * inline), and a new method cannot be added without one. A method made with
 * `Effect.fn("<service>.<method>")` already starts that span (its function carries the name) and is
 * left as it is, so that no span is nested in another of the same name. No attributes: arguments
 * may carry personal data.
 */
export const withMethodSpans = (service: string) => <S extends object, E, R>(make: Effect.Effect<S, E, R>) =>
  Effect.map(make, (built): S =>
    Object.fromEntries(
      Object.entries(built).map(([method, member]) => {
        const name = `${service}.${method}`
        // A member may be an effect itself (`listAll`) rather than a function returning one; any
        // other member (a stream of notifications, a constant) is left as it is.
        return [
          method,
          Effect.isEffect(member)
            ? Effect.withSpan(member, name)
            : typeof member === "function" && member.name !== name
            ? (...args: ReadonlyArray<unknown>) =>
              Effect.withSpan(Effect.suspend(() => (member as Method)(...args)), name)
            : member
        ]
      })
    ) as S)
