import { Email } from "@clinic/domain"
import { LoginAuditRepo } from "@clinic/repository"
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, TestClock } from "effect"
import { decide } from "../src/auth/LoginThrottle.js"
import { client, memoryServer, postgresServer, startClock } from "./support/TestApi.js"

const password = "correct horse battery staple"

/** `POST /auth/login` from `from` (sent as `X-Forwarded-For`; believed only behind a trusted proxy). */
const login = (email: string, attempt: string, headers: Record<string, string> = {}) =>
  HttpClient.execute(
    HttpClientRequest.post("/auth/login").pipe(
      HttpClientRequest.setHeaders(headers),
      HttpClientRequest.bodyUnsafeJson({ email, password: attempt })
    )
  ).pipe(
    Effect.flatMap((response) =>
      Effect.map(response.json, (body) => ({
        status: response.status,
        headers: response.headers,
        body: body as { readonly _tag?: string; readonly action?: string; readonly retryAfter?: number }
      }))
    ),
    Effect.scoped,
    Effect.orDie
  )

const from = (address: string) => ({ "x-forwarded-for": address })

const register = (email: string) =>
  Effect.flatMap(
    client(),
    (api) => api.auth.register({ payload: { email: Email.make(email), name: "Dr Ada", password } })
  )

const statuses = (answers: ReadonlyArray<{ readonly status: number }>) => answers.map((a) => a.status)

const repeat = <A, E, R>(n: number, effect: Effect.Effect<A, E, R>) =>
  Effect.forEach(Array.from({ length: n }), () => effect)

// Small limits keep the tests short; the rules are the same at the defaults.
const limits = {
  API_LOGIN_LIMIT_PER_ACCOUNT_ADDRESS: "3",
  API_LOGIN_LIMIT_PER_ADDRESS: "8",
  API_LOGIN_LIMIT_PER_ACCOUNT: "6",
  API_LOGIN_WINDOW: "15 minutes"
}

const behindProxy = (settings: Record<string, string> = {}) =>
  Effect.provide(
    Layer.merge(
      memoryServer({ signIn: "tokens", settings: { ...limits, API_TRUSTED_PROXIES: "1", ...settings } }),
      NodeFileSystem.layer
    )
  )

describe("login throttling", () => {
  it.scoped("failures from one address lock that (account, address) out with 429 and Retry-After, until the window moves on", () =>
    Effect.gen(function*() {
      yield* startClock
      yield* register("ada@clinic.test")
      const failures = yield* repeat(3, login("ada@clinic.test", "wrong password!", from("192.0.2.1")))
      assert.deepStrictEqual(statuses(failures), [401, 401, 401])
      // Now even the right password is refused, before it is checked.
      yield* TestClock.adjust("5 minutes")
      const refused = yield* login("ada@clinic.test", password, from("192.0.2.1"))
      assert.strictEqual(refused.status, 429)
      assert.strictEqual(refused.body._tag, "RateLimited")
      assert.strictEqual(refused.body.action, "login")
      assert.strictEqual(refused.headers["retry-after"], String(10 * 60))
      assert.strictEqual(refused.body.retryAfter, 10 * 60)
      // Retrying does not prolong it: refused attempts are not counted.
      yield* TestClock.adjust("9 minutes")
      assert.strictEqual((yield* login("ada@clinic.test", password, from("192.0.2.1"))).status, 429)
      yield* TestClock.adjust("1 minute")
      assert.strictEqual((yield* login("ada@clinic.test", password, from("192.0.2.1"))).status, 200)
    }).pipe(behindProxy()))

  it.scoped("another address is not locked out by failures elsewhere; a success resets its own count", () =>
    Effect.gen(function*() {
      yield* startClock
      yield* register("ada@clinic.test")
      yield* repeat(3, login("ada@clinic.test", "wrong password!", from("192.0.2.66")))
      assert.strictEqual((yield* login("ada@clinic.test", password, from("192.0.2.66"))).status, 429)
      // The therapist, elsewhere: two typos, a success, then two more typos are all let through.
      const own = [
        ...(yield* repeat(2, login("ada@clinic.test", "typo typo typo", from("198.51.100.7")))),
        yield* login("ada@clinic.test", password, from("198.51.100.7")),
        ...(yield* repeat(2, login("ada@clinic.test", "typo typo typo", from("198.51.100.7")))),
        yield* login("ada@clinic.test", password, from("198.51.100.7"))
      ]
      assert.deepStrictEqual(statuses(own), [401, 401, 200, 401, 401, 200])
    }).pipe(behindProxy()))

  it.scoped("many addresses reach the per-account limit, but the therapist's known address still logs in", () =>
    Effect.gen(function*() {
      yield* startClock
      yield* register("ada@clinic.test")
      assert.strictEqual((yield* login("ada@clinic.test", password, from("198.51.100.7"))).status, 200)
      // Six failures from six addresses (each below its own limit) reach the account's limit of 6.
      for (let i = 1; i <= 6; i++) {
        assert.strictEqual((yield* login("ada@clinic.test", "guess guess guess", from(`203.0.113.${i}`))).status, 401)
      }
      assert.strictEqual((yield* login("ada@clinic.test", "guess guess guess", from("203.0.113.99"))).status, 429)
      assert.strictEqual((yield* login("ada@clinic.test", password, from("203.0.113.100"))).status, 429)
      // The address Ada logged in from before is exempt from the account-wide limit.
      assert.strictEqual((yield* login("ada@clinic.test", password, from("198.51.100.7"))).status, 200)
    }).pipe(behindProxy()))

  it.scoped("one address trying many accounts reaches the per-address limit; unknown emails count alike", () =>
    Effect.gen(function*() {
      yield* startClock
      yield* register("ada@clinic.test")
      const sprayed = yield* Effect.forEach(
        Array.from({ length: 8 }, (_, i) => `nobody${i}@clinic.test`),
        (email) => login(email, "guess guess guess", from("192.0.2.9"))
      )
      assert.deepStrictEqual(statuses(sprayed), Array(8).fill(401))
      assert.strictEqual((yield* login("ada@clinic.test", password, from("192.0.2.9"))).status, 429)
      assert.strictEqual((yield* login("ada@clinic.test", password, from("192.0.2.10"))).status, 200)
    }).pipe(behindProxy()))

  it.scoped("an IPv6 client is counted by its /64, so rotating addresses inside it changes nothing", () =>
    Effect.gen(function*() {
      yield* startClock
      yield* register("ada@clinic.test")
      for (const host of ["1", "2", "abcd:ef01"]) {
        assert.strictEqual(
          (yield* login("ada@clinic.test", "guess guess guess", from(`2001:db8:1:2::${host}`))).status,
          401
        )
      }
      assert.strictEqual((yield* login("ada@clinic.test", password, from("2001:db8:1:2:ffff::1"))).status, 429)
      assert.strictEqual((yield* login("ada@clinic.test", password, from("2001:db8:1:3::1"))).status, 200)
    }).pipe(behindProxy()))

  it.scoped("without API_TRUSTED_PROXIES, X-Forwarded-For is ignored: spoofing it escapes nothing", () =>
    Effect.gen(function*() {
      yield* startClock
      yield* register("ada@clinic.test")
      const answers = yield* Effect.forEach(
        ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"],
        (spoofed) => login("ada@clinic.test", "guess guess guess", from(spoofed))
      )
      assert.deepStrictEqual(statuses(answers), [401, 401, 401, 429])
      const audit = yield* Effect.flatMap(LoginAuditRepo, (repo) => repo.listRecent(10))
      assert.isTrue(audit.every((entry) => entry.address === "127.0.0.1"), JSON.stringify(audit))
    }).pipe(behindProxy({ API_TRUSTED_PROXIES: "0" })))

  it.scoped("20 concurrent guesses under a limit of 3: 3 are checked, 17 refused", () =>
    Effect.gen(function*() {
      yield* startClock
      yield* register("ada@clinic.test")
      const answers = yield* Effect.forEach(
        Array.from({ length: 20 }),
        () => login("ada@clinic.test", "guess guess guess", from("192.0.2.1")),
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(statuses(answers).sort(), [...Array(3).fill(401), ...Array(17).fill(429)])
    }).pipe(behindProxy()))
})

describe("login audit log", () => {
  it.scoped("every attempt is recorded: who, when, from where, how it ended; never the password", () =>
    Effect.gen(function*() {
      yield* startClock
      const ada = yield* register("ada@clinic.test")
      const agent = { ...from("192.0.2.1"), "user-agent": "Mozilla/5.0 ".repeat(60) }
      yield* login("nobody@clinic.test", "secret one two", agent)
      yield* TestClock.adjust("1 minute")
      yield* login("ada@clinic.test", "secret three four", agent)
      yield* TestClock.adjust("1 minute")
      yield* login(" ADA@Clinic.test ", password, agent)
      yield* repeat(3, login("ada@clinic.test", "secret five six", from("192.0.2.2")))
      yield* login("ada@clinic.test", "secret seven eight", from("192.0.2.2"))

      const entries = [...(yield* Effect.flatMap(LoginAuditRepo, (repo) => repo.listRecent(100)))].reverse()
      assert.deepStrictEqual(
        entries.map((e) => [e.email, e.userId, e.address, e.outcome]),
        [
          ["nobody@clinic.test", null, "192.0.2.1", "failed"],
          ["ada@clinic.test", ada.id, "192.0.2.1", "failed"],
          ["ada@clinic.test", ada.id, "192.0.2.1", "succeeded"],
          ["ada@clinic.test", ada.id, "192.0.2.2", "failed"],
          ["ada@clinic.test", ada.id, "192.0.2.2", "failed"],
          ["ada@clinic.test", ada.id, "192.0.2.2", "failed"],
          ["ada@clinic.test", ada.id, "192.0.2.2", "throttled"]
        ]
      )
      assert.deepStrictEqual(entries.slice(0, 3).map((e) => e.at.epochMillis - entries[0].at.epochMillis), [
        0,
        60_000,
        120_000
      ])
      assert.strictEqual(entries[0].userAgent, agent["user-agent"].slice(0, 256))
      assert.strictEqual(entries[3].userAgent, null)
      const text = JSON.stringify(entries)
      for (const secret of ["secret", password]) assert.notInclude(text, secret)
    }).pipe(behindProxy()))
})

describe("login throttling (Postgres)", () => {
  it.scoped("concurrent guesses, a lockout and the audit log on the shared tables", () =>
    Effect.gen(function*() {
      yield* startClock
      yield* register("ada@clinic.test")
      const answers = yield* Effect.forEach(
        Array.from({ length: 12 }),
        () => login("ada@clinic.test", "guess guess guess", from("192.0.2.1")),
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(statuses(answers).sort(), [...Array(3).fill(401), ...Array(9).fill(429)])
      assert.strictEqual((yield* login("ada@clinic.test", password, from("192.0.2.5"))).status, 200)
      yield* TestClock.adjust("15 minutes")
      assert.strictEqual((yield* login("ada@clinic.test", password, from("192.0.2.1"))).status, 200)
      const outcomes = (yield* Effect.flatMap(LoginAuditRepo, (repo) => repo.listRecent(100))).map((e) => e.outcome)
      assert.deepStrictEqual(
        [...outcomes].sort(),
        [...Array(3).fill("failed"), ...Array(2).fill("succeeded"), ...Array(9).fill("throttled")]
      )
    }).pipe(
      Effect.provide(
        Layer.merge(
          postgresServer({ signIn: "tokens", settings: { ...limits, API_TRUSTED_PROXIES: "1" } }),
          NodeFileSystem.layer
        )
      )
    ))
})

describe("the throttle's rule", () => {
  const key = (subject: string) => ({ action: "login-address", subject })
  const window = 60_000
  const now = 1_000_000

  it("refused when any limit is reached, with the longest wait among the refusing limits", () => {
    // The first limit's oldest counted attempt frees a slot in 50 s, the second's in 10 s.
    const longFirst = decide(
      [{ key: key("a"), limit: 2 }, { key: key("b"), limit: 3 }],
      [[now - 10_000, now - 5_000], [now - 50_000, now - 40_000, now - 1_000]],
      now,
      window
    )
    assert.strictEqual(longFirst?.retryAfter, 50)
    assert.strictEqual(longFirst?.limit, 2)
    // The same, listed the other way round.
    const longLast = decide(
      [{ key: key("b"), limit: 3 }, { key: key("a"), limit: 2 }],
      [[now - 50_000, now - 40_000, now - 1_000], [now - 10_000, now - 5_000]],
      now,
      window
    )
    assert.strictEqual(longLast?.retryAfter, 50)
    assert.strictEqual(longLast?.limit, 2)
    assert.strictEqual(longLast?.windowSeconds, 60)

    // A limit not reached does not refuse, whatever its attempts.
    assert.isUndefined(decide([{ key: key("a"), limit: 3 }], [[now - 1, now - 2]], now, window))
  })
})
