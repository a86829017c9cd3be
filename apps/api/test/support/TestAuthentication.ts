import { Authentication, AuthSession, AuthSessionId, Unauthorized, type UserId } from "@clinic/domain"
import { UserRepo } from "@clinic/repository"
import { DateTime, Effect, Layer, Redacted } from "effect"

/**
 * Test-only stand-in for the session-backed middleware: the bearer token is the id of a user in
 * the `UserRepo`. Enough to exercise ownership rules; the real token handling lives on its own.
 */
export const TestAuthentication = Layer.effect(
  Authentication,
  Effect.gen(function*() {
    const users = yield* UserRepo
    return Authentication.of({
      bearer: (token) =>
        Effect.gen(function*() {
          const user = yield* users.findById(Redacted.value(token) as UserId)
          const now = yield* DateTime.now
          const session = new AuthSession({
            id: AuthSessionId.make(crypto.randomUUID()),
            userId: user.id,
            tokenHash: "test",
            createdAt: now,
            lastActiveAt: now,
            expiresAt: DateTime.add(now, { days: 1 }),
            userAgent: null,
            ip: null
          })
          return { user, session }
        }).pipe(Effect.catchTag("NotFound", () => Effect.fail(new Unauthorized({ message: "Unknown bearer token" }))))
    })
  })
)
