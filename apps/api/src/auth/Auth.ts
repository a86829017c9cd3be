import type { AuthSessionId, Email, EmailAlreadyRegistered, NotFound, User, UserRole } from "@clinic/domain"
import { AuthSession, notFound, PublicAuthSession, Unauthorized } from "@clinic/domain"
import { withMethodSpans } from "@clinic/foundation"
import { AuthSessionRepo, LoginAuditRepo, type LoginOutcome, UserRepo } from "@clinic/repository"
import type { Redacted } from "effect"
import { DateTime, Duration, Effect, Option, Redacted as R } from "effect"
import { ApiConfig, type AuthSettings } from "../ApiConfig.js"
import { AuthSessionMediaUploads } from "./AuthSessionMediaUploads.js"
import { LoginThrottle } from "./LoginThrottle.js"
import * as Passwords from "./Passwords.js"
import * as Tokens from "./Tokens.js"

export type SessionState = "active" | "expired" | "idle"

/**
 * Whether a session still admits its token at `now`: not past its absolute expiry, and not idle
 * for the timeout since its recorded activity. Both are checked on every request, so a session the
 * scheduler has not removed yet is refused all the same.
 */
export const sessionState = (
  session: AuthSession,
  now: DateTime.Utc,
  settings: Pick<AuthSettings, "idleTimeout">
): SessionState =>
  !DateTime.lessThan(now, session.expiresAt)
    ? "expired"
    : !DateTime.lessThan(now, DateTime.addDuration(session.lastActiveAt, settings.idleTimeout))
    ? "idle"
    : "active"

/** Activity is written at most once per interval: reads stay reads on almost every request. */
export const needsTouch = (
  session: AuthSession,
  now: DateTime.Utc,
  settings: Pick<AuthSettings, "touchInterval">
): boolean => !DateTime.lessThan(now, DateTime.addDuration(session.lastActiveAt, settings.touchInterval))

// Built from a session that is valid already, so the constructors skip their check: with the
// timestamps' transformations, Effect 3 compiles a class's validator anew on every construction
// (44 µs each here), which made listing a user's sessions cost 12% of a fuzz run's CPU.
export const toPublic = (session: AuthSession, currentId?: AuthSessionId): PublicAuthSession =>
  new PublicAuthSession({
    id: session.id,
    createdAt: session.createdAt,
    lastActiveAt: session.lastActiveAt,
    expiresAt: session.expiresAt,
    userAgent: session.userAgent,
    ip: session.ip,
    current: session.id === currentId
  }, true)

export interface NewAccount {
  readonly email: Email
  readonly name: string
  readonly password: string
}

export interface ClientInfo {
  readonly userAgent: string | null
  readonly ip: string | null
}

export interface Login {
  readonly token: Redacted.Redacted<string>
  readonly session: AuthSession
}

const invalidCredentials = new Unauthorized({ message: "Invalid email or password" })
const invalidToken = new Unauthorized({ message: "Missing or invalid bearer token" })
const USER_AGENT_MAX = 512
const AUDIT_USER_AGENT_MAX = 256

/** Sign-up, sign-in and the life of auth sessions; time comes from the `Clock`. */
export class Auth extends Effect.Service<Auth>()("@clinic/api/Auth", {
  effect: Effect.gen(function*() {
    const settings = (yield* ApiConfig).auth
    const users = yield* UserRepo
    const sessions = yield* AuthSessionRepo
    const media = yield* AuthSessionMediaUploads
    const audit = yield* LoginAuditRepo
    const throttle = yield* LoginThrottle
    const params = Passwords.productionParams(settings.scryptLogN)
    // An unknown email is checked against this hash, so that it costs what a wrong password costs
    // and response times do not tell which addresses have accounts.
    const dummyHash = yield* Passwords.hash(Tokens.generate(), params)

    const createAccount = Effect.fn("Auth.createAccount")(
      function*(account: NewAccount, role: UserRole) {
        const passwordHash = yield* Passwords.hash(account.password, params)
        return yield* users.insert({ email: account.email, name: account.name, role, passwordHash })
      }
    )

    const login = Effect.fn("Auth.login")(function*(email: Email, password: string, client: ClientInfo) {
      const credentials = yield* users.findCredentials(email)
      const userId = Option.map(credentials, (c) => c.user.id)
      const userAgent = client.userAgent?.slice(0, USER_AGENT_MAX) ?? null
      const record = (outcome: LoginOutcome) =>
        Effect.flatMap(DateTime.now, (at) =>
          audit.record({
            at,
            email,
            userId: Option.getOrNull(userId),
            address: client.ip,
            userAgent: userAgent?.slice(0, AUDIT_USER_AGENT_MAX) ?? null,
            outcome
          }))
      const attempt = yield* throttle.admit(email, client.ip, userId).pipe(
        Effect.tapError(() => record("throttled"))
      )
      const encoded = Option.match(credentials, { onNone: () => dummyHash, onSome: (c) => c.passwordHash })
      const matches = yield* Passwords.verify(password, encoded)
      if (Option.isNone(credentials) || !matches) {
        yield* record("failed")
        return yield* Effect.fail(invalidCredentials)
      }
      yield* throttle.succeeded(attempt)
      // A hash made with a lower cost than today's is replaced while the password is at hand.
      if (Passwords.needsRehash(encoded, params)) {
        yield* users.updatePasswordHash(credentials.value.user.id, yield* Passwords.hash(password, params))
      }
      const token = Tokens.generate()
      const now = yield* DateTime.now
      const session = yield* sessions.insert({
        userId: credentials.value.user.id,
        tokenHash: Tokens.hash(token),
        expiresAt: DateTime.addDuration(now, settings.sessionLifetime),
        userAgent,
        ip: client.ip
      })
      yield* record("succeeded")
      return { token: R.make(token), session } satisfies Login
    })

    const authenticate = Effect.fn("Auth.authenticate")(function*(token: Redacted.Redacted<string>) {
      const raw = R.value(token).trim()
      // Anything but one of our tokens is refused before it costs a query.
      if (!/^[A-Za-z0-9_-]{16,128}$/.test(raw)) return yield* Effect.fail(invalidToken)
      const digest = Tokens.hash(raw)
      // The session and its user in one query: a second round trip per request bought nothing.
      const found = yield* sessions.findByTokenHash(digest)
      if (Option.isNone(found) || !Tokens.digestsEqual(found.value.session.tokenHash, digest)) {
        return yield* Effect.fail(invalidToken)
      }
      const now = yield* DateTime.now
      const { user } = found.value
      let { session } = found.value
      const state = sessionState(session, now, settings)
      if (state !== "active") {
        return yield* Effect.fail(
          new Unauthorized({ message: state === "expired" ? "The session has expired" : "The session timed out" })
        )
      }
      if (needsTouch(session, now, settings)) {
        yield* sessions.touch(session.id, now)
        session = new AuthSession({ ...session, lastActiveAt: now }, true)
      }
      return { user, session }
    })

    const remove = (ids: ReadonlyArray<AuthSessionId>) =>
      Effect.flatMap(sessions.deleteByIds(ids), (deleted) => media.remove(deleted.mediaPaths))

    return {
      /** A self-registered account is always a therapist; admins come from `create-admin`. */
      register: (account: NewAccount): Effect.Effect<User, EmailAlreadyRegistered> =>
        createAccount(account, "therapist"),
      createAccount,
      /**
       * A new session and its bearer token; unknown email and wrong password fail alike, too many
       * failures with `RateLimited`. Every attempt is written to the login audit log.
       */
      login,
      /** The user and session a bearer token stands for, recording activity at most once per interval. */
      authenticate,
      logout: (session: AuthSession): Effect.Effect<void> => remove([session.id]),
      /** The user's sessions that still admit their token, newest first. */
      listSessions: (current: AuthSession): Effect.Effect<ReadonlyArray<PublicAuthSession>> =>
        Effect.gen(function*() {
          const now = yield* DateTime.now
          const all = yield* sessions.listByUser(current.userId)
          return all.filter((s) => sessionState(s, now, settings) === "active").map((s) => toPublic(s, current.id))
        }),
      /** Ends one of the user's sessions; another user's session is as absent as a missing one. */
      revoke: (userId: User["id"], id: AuthSessionId): Effect.Effect<void, NotFound> =>
        Effect.gen(function*() {
          const session = yield* sessions.findById(id)
          if (session.userId !== userId) return yield* Effect.fail(notFound("AuthSession", id))
          yield* remove([id])
        }),
      idleTimeoutSeconds: Math.floor(Duration.toSeconds(settings.idleTimeout))
    } as const
  }).pipe(withMethodSpans("Auth")),
  dependencies: [AuthSessionMediaUploads.Default, LoginThrottle.Default]
}) {}
