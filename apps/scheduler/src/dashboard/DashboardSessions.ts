import { withMethodSpans } from "@clinic/foundation"
import { DateTime, Duration, Effect, Option, Ref } from "effect"
import { randomBytes, timingSafeEqual } from "node:crypto"

/** A signed-in operator: the cookie carries `id`; every changing form carries `csrf`. */
export interface DashboardSession {
  readonly id: string
  readonly operator: string
  readonly csrf: string
  readonly expiresAt: DateTime.Utc
}

/** How long a sign-in lasts; sign out earlier with the button. */
export const SESSION_LIFETIME = Duration.hours(12)

const token = () => randomBytes(32).toString("base64url")

/**
 * Dashboard sign-ins, held by this process: a restart signs everyone out, and each replica has its
 * own (an operator opens one replica's dashboard). Kept in memory rather than in Postgres because
 * nothing else needs them and signing out must end the session at once.
 */
export class DashboardSessions extends Effect.Service<DashboardSessions>()("@clinic/scheduler/DashboardSessions", {
  effect: Effect.gen(function*() {
    const sessions = yield* Ref.make<ReadonlyMap<string, DashboardSession>>(new Map())
    return {
      create: (operator: string) =>
        Effect.gen(function*() {
          const now = yield* DateTime.now
          const session: DashboardSession = {
            id: token(),
            operator,
            csrf: token(),
            expiresAt: DateTime.addDuration(now, SESSION_LIFETIME)
          }
          yield* Ref.update(sessions, (map) => {
            // Expired sign-ins go when a new one comes, so the map stays as small as the team.
            const next = new Map([...map].filter(([, s]) => DateTime.greaterThan(s.expiresAt, now)))
            return next.set(session.id, session)
          })
          return session
        }),
      find: (id: string) =>
        Effect.gen(function*() {
          const now = yield* DateTime.now
          const session = Option.fromNullable((yield* Ref.get(sessions)).get(id))
          return Option.filter(session, (s) => DateTime.greaterThan(s.expiresAt, now))
        }),
      remove: (id: string) =>
        Ref.update(sessions, (map) => {
          const next = new Map(map)
          next.delete(id)
          return next
        })
    }
  }).pipe(withMethodSpans("DashboardSessions"))
}) {}

/** Compares a submitted CSRF token with the session's in constant time. */
export const csrfMatches = (session: DashboardSession, submitted: string | undefined): boolean => {
  if (submitted === undefined) return false
  const a = Buffer.from(session.csrf)
  const b = Buffer.from(submitted)
  return a.length === b.length && timingSafeEqual(a, b)
}
