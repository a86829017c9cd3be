import { AuthSession, AuthSessionId, Email, UserId } from "@clinic/domain"
import { AuthSessionRepo } from "@clinic/repository"
import * as Repositories from "@clinic/repository/Repositories"
import { recordSpanNames } from "@clinic/testing"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Duration, Effect, Layer, Option, Redacted, Ref, TestClock } from "effect"
import { Auth, needsTouch, sessionState } from "../src/auth/Auth.js"
import { AuthSessionMediaUploads } from "../src/auth/AuthSessionMediaUploads.js"
import { LoginThrottle } from "../src/auth/LoginThrottle.js"
import { testConfig, testStorage } from "./support/TestApi.js"

const T0 = DateTime.unsafeMake("2026-03-02T09:00:00.000Z")
const at = (offset: Duration.DurationInput) => DateTime.addDuration(T0, offset)
const startClock = TestClock.setTime(DateTime.toEpochMillis(T0))

const session = (fields: { lastActiveAt: DateTime.Utc; expiresAt: DateTime.Utc }) =>
  new AuthSession({
    id: AuthSessionId.make(crypto.randomUUID()),
    userId: UserId.make(crypto.randomUUID()),
    tokenHash: "0".repeat(64),
    createdAt: T0,
    userAgent: null,
    ip: null,
    ...fields
  })

const settings = { idleTimeout: Duration.hours(24), touchInterval: Duration.minutes(5) }

const authLayer = Auth.DefaultWithoutDependencies.pipe(
  Layer.provideMerge(AuthSessionMediaUploads.Default),
  Layer.provideMerge(LoginThrottle.Default),
  Layer.provideMerge(Repositories.layerMemory),
  Layer.provideMerge(testStorage()),
  Layer.provideMerge(testConfig())
)

const ada = { email: Email.make("ada@clinic.test"), name: "Ada", password: "correct horse battery staple" }
const client = { userAgent: "test", ip: "127.0.0.1" }

describe("session rules", () => {
  it("a session is active until its absolute expiry and until idle for the timeout", () => {
    const fresh = session({ lastActiveAt: T0, expiresAt: at("30 days") })
    assert.strictEqual(sessionState(fresh, T0, settings), "active")
    assert.strictEqual(sessionState(fresh, at(Duration.subtract("24 hours", "1 millis")), settings), "active")
    assert.strictEqual(sessionState(fresh, at("24 hours"), settings), "idle")
    const busy = session({ lastActiveAt: at("719 hours"), expiresAt: at("30 days") })
    assert.strictEqual(sessionState(busy, at(Duration.subtract("30 days", "1 millis")), settings), "active")
    assert.strictEqual(sessionState(busy, at("30 days"), settings), "expired")
  })

  it("activity is recorded once the touch interval has passed since the last record", () => {
    const s = session({ lastActiveAt: T0, expiresAt: at("30 days") })
    assert.isFalse(needsTouch(s, T0, settings))
    assert.isFalse(needsTouch(s, at(Duration.subtract("5 minutes", "1 millis")), settings))
    assert.isTrue(needsTouch(s, at("5 minutes"), settings))
  })
})

describe("Auth service", () => {
  it.scoped("an unknown email costs a password verification too, and fails like a wrong password", () =>
    Effect.gen(function*() {
      yield* startClock
      const auth = yield* Auth
      yield* auth.register(ada)
      const unknown = yield* recordSpanNames(auth.login(Email.make("eve@clinic.test"), ada.password, client))
      const wrong = yield* recordSpanNames(auth.login(ada.email, "wrong password, long enough", client))
      assert.include(unknown.names, "Passwords.verify")
      assert.include(wrong.names, "Passwords.verify")
      assert.deepStrictEqual(unknown.exit, wrong.exit)
      assert.isTrue(unknown.exit._tag === "Failure")
    }).pipe(Effect.provide(authLayer)))

  it.scoped("register makes therapists; createAccount can make an admin", () =>
    Effect.gen(function*() {
      yield* startClock
      const auth = yield* Auth
      assert.strictEqual((yield* auth.register(ada)).role, "therapist")
      const admin = yield* auth.createAccount({ ...ada, email: Email.make("root@clinic.test") }, "admin")
      assert.strictEqual(admin.role, "admin")
      const { token } = yield* auth.login(admin.email, ada.password, client)
      assert.strictEqual((yield* auth.authenticate(token)).user.role, "admin")
    }).pipe(Effect.provide(authLayer)))

  it.scoped("authenticate refuses malformed, unknown, logged-out and revoked tokens", () =>
    Effect.gen(function*() {
      yield* startClock
      const auth = yield* Auth
      const user = yield* auth.register(ada)
      const first = yield* auth.login(ada.email, ada.password, client)
      const second = yield* auth.login(ada.email, ada.password, client)
      const refused = (token: string | Redacted.Redacted<string>) =>
        auth.authenticate(typeof token === "string" ? Redacted.make(token) : token).pipe(
          Effect.flip,
          Effect.map((error) => error._tag)
        )
      assert.strictEqual(yield* refused(""), "Unauthorized")
      assert.strictEqual(yield* refused("not a token!"), "Unauthorized")
      assert.strictEqual(yield* refused("x".repeat(43)), "Unauthorized")

      assert.strictEqual((yield* auth.authenticate(first.token)).session.id, first.session.id)
      yield* auth.logout(first.session)
      assert.strictEqual(yield* refused(first.token), "Unauthorized")

      yield* auth.revoke(user.id, second.session.id)
      assert.strictEqual(yield* refused(second.token), "Unauthorized")
      const again = yield* Effect.flip(auth.revoke(user.id, second.session.id))
      assert.strictEqual(again._tag, "NotFound")
      assert.isTrue(Option.isNone(yield* Effect.option(auth.authenticate(second.token))))
    }).pipe(Effect.provide(authLayer)))
})

describe("Auth service at its boundary", () => {
  /** The memory repository, counting the token lookups it answers. */
  class Lookups extends Effect.Service<Lookups>()("test/Lookups", { effect: Ref.make(0) }) {}
  const counted = Layer.effect(
    AuthSessionRepo,
    Effect.gen(function*() {
      const repo = yield* AuthSessionRepo
      const lookups = yield* Lookups
      return {
        ...repo,
        findByTokenHash: (hash: string) =>
          Effect.zipRight(Ref.update(lookups, (n) => n + 1), repo.findByTokenHash(hash))
      }
    })
  )
  const countingLayer = Auth.DefaultWithoutDependencies.pipe(
    Layer.provideMerge(AuthSessionMediaUploads.Default),
    Layer.provideMerge(LoginThrottle.Default),
    Layer.provide(counted),
    Layer.provideMerge(Lookups.Default),
    Layer.provideMerge(Repositories.layerMemory),
    Layer.provideMerge(testStorage()),
    Layer.provideMerge(testConfig())
  )

  it.scoped("a token with surrounding whitespace is accepted; anything but 16 to 128 token characters costs no lookup", () =>
    Effect.gen(function*() {
      yield* startClock
      const auth = yield* Auth
      const lookups = yield* Lookups
      yield* auth.register(ada)
      const { session, token } = yield* auth.login(ada.email, ada.password, client)
      const raw = Redacted.value(token)
      const padded = yield* auth.authenticate(Redacted.make(` \t${raw}\n `))
      assert.strictEqual(padded.session.id, session.id)

      yield* Ref.set(lookups, 0)
      for (
        const malformed of [
          `!${raw}`,
          `${raw}!`,
          "a".repeat(15),
          "a".repeat(129),
          `${"a".repeat(16)} ${"b".repeat(16)}`
        ]
      ) {
        const error = yield* Effect.flip(auth.authenticate(Redacted.make(malformed)))
        assert.strictEqual(error._tag, "Unauthorized", malformed)
      }
      assert.strictEqual(yield* Ref.get(lookups), 0)
      // Well-formed but unknown: looked up, and refused.
      assert.strictEqual((yield* Effect.flip(auth.authenticate(Redacted.make("a".repeat(128)))))._tag, "Unauthorized")
      assert.strictEqual(yield* Ref.get(lookups), 1)
    }).pipe(Effect.provide(countingLayer)))

  it.scoped("a long user agent is kept on the session cut to 512 characters", () =>
    Effect.gen(function*() {
      yield* startClock
      const auth = yield* Auth
      yield* auth.register(ada)
      const userAgent = "Mozilla/5.0 ".repeat(100)
      const { session } = yield* auth.login(ada.email, ada.password, { ...client, userAgent })
      assert.strictEqual(session.userAgent, userAgent.slice(0, 512))
      const short = yield* auth.login(ada.email, ada.password, client)
      assert.strictEqual(short.session.userAgent, "test")
    }).pipe(Effect.provide(authLayer)))
})
