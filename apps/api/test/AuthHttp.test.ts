import { Email, type LoginResponse } from "@clinic/domain"
import { tables } from "@clinic/repository"
import { FileSystem, HttpClient, HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, type Duration, Effect, Layer, Schema, TestClock } from "effect"
import * as Path from "node:path"
import { ApiConfig } from "../src/ApiConfig.js"
import { client, memoryServer } from "./support/TestApi.js"

const T0 = DateTime.unsafeMake("2026-03-02T09:00:00.000Z")
const startClock = TestClock.setTime(DateTime.toEpochMillis(T0))
const at = (offset: Duration.DurationInput) => DateTime.formatIso(DateTime.addDuration(T0, offset))
const password = "correct horse battery staple"

const register = (email: string) =>
  Effect.flatMap(
    client(),
    (api) => api.auth.register({ payload: { email: Email.make(email), name: "Ada Lovelace", password } })
  )

const login = (email: string) =>
  Effect.flatMap(client(), (api) => api.auth.login({ payload: { email: Email.make(email), password } }))

const registerRaw = (body: unknown) =>
  HttpClient.execute(HttpClientRequest.post("/auth/register").pipe(HttpClientRequest.bodyUnsafeJson(body)))

/** The fields of an error body these tests read, decoded from the raw response. */
const errorBody = HttpClientResponse.schemaBodyJson(Schema.Struct({
  _tag: Schema.String,
  issues: Schema.optionalWith(
    Schema.Array(Schema.Struct({ path: Schema.Array(Schema.Union(Schema.String, Schema.Number)) })),
    { default: () => [] }
  )
}))

const signUp = (email = "ada@clinic.test") => Effect.zipRight(register(email), login(email))

const me = (session: LoginResponse) => Effect.flatMap(client(session.token), (api) => api.auth.me())

/** The status of `me` with this session's token: 200 or the error's tag. */
const meStatus = (session: LoginResponse) =>
  me(session).pipe(Effect.as("ok"), Effect.catchAll((error) => Effect.succeed(error._tag)))

const storedLastActive = (session: LoginResponse) =>
  Effect.map(tables, (t) => DateTime.formatIso(t.authSessions.get(session.session.id)!.lastActiveAt))

const withServer = (settings: Record<string, string> = {}) =>
  Effect.provide(Layer.merge(memoryServer({ settings, signIn: "tokens" }), NodeFileSystem.layer))

const PNG = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...new Array(120).fill(7)])

const form = (bytes: Uint8Array, name = "photo.png", type = "image/png") => {
  const data = new FormData()
  data.append("file", new Blob([bytes], { type }), name)
  return data
}

describe("auth over HTTP (memory repositories)", () => {
  it.scoped("register, login and me; the token's expiry is 30 days; no hash leaves the server", () =>
    Effect.gen(function*() {
      yield* startClock
      const created = yield* registerRaw({ email: " Ada@Clinic.test ", name: "Ada Lovelace", password })
      assert.strictEqual(created.status, 201)
      const user = yield* me(yield* login("ada@clinic.test"))
      assert.strictEqual(user.email, "ada@clinic.test")
      assert.strictEqual(user.role, "therapist")
      const session = yield* login("ada@clinic.test")
      assert.strictEqual(session.tokenType, "Bearer")
      assert.strictEqual(DateTime.formatIso(session.expiresAt), at("30 days"))
      assert.strictEqual(session.idleTimeoutSeconds, 24 * 3600)
      assert.deepStrictEqual(yield* me(session), user)

      const stored = (yield* tables).authSessions.get(session.session.id)!
      assert.notInclude(stored.tokenHash, "token")
      assert.notStrictEqual(stored.tokenHash, session.token.toString())
      const raw = yield* HttpClient.execute(
        HttpClientRequest.get("/auth/sessions").pipe(HttpClientRequest.bearerToken(session.token))
      )
      const body = yield* raw.text
      assert.strictEqual(raw.status, 200)
      assert.notInclude(body, stored.tokenHash)
      assert.notInclude(body, "tokenHash")
    }).pipe(withServer()))

  it.scoped("duplicate email is 409 whatever its case; validation errors are 400 and name the field", () =>
    Effect.gen(function*() {
      yield* startClock
      yield* register("ada@clinic.test")
      const duplicate = yield* Effect.flip(register("ada@clinic.test"))
      assert.strictEqual(duplicate._tag, "EmailAlreadyRegistered")
      const upperCase = yield* registerRaw({ email: "ADA@clinic.test", name: "Ada", password })
      assert.strictEqual(upperCase.status, 409)
      assert.strictEqual((yield* errorBody(upperCase))._tag, "EmailAlreadyRegistered")

      const short = yield* registerRaw({ email: "bob@clinic.test", name: "Bob", password: "short" })
      assert.strictEqual(short.status, 400)
      const shortBody = yield* errorBody(short)
      assert.strictEqual(shortBody._tag, "HttpApiDecodeError")
      assert.deepStrictEqual(shortBody.issues.map((issue) => issue.path), [["password"]])

      const badEmail = yield* registerRaw({ email: "not-an-email", name: "Bob", password })
      assert.strictEqual(badEmail.status, 400)
      assert.deepStrictEqual((yield* errorBody(badEmail)).issues.map((issue) => issue.path), [["email"]])
    }).pipe(withServer()))

  it.scoped("wrong password and unknown email are the same 401", () =>
    Effect.gen(function*() {
      yield* startClock
      yield* register("ada@clinic.test")
      const api = yield* client()
      const wrong = yield* Effect.flip(
        api.auth.login({ payload: { email: Email.make("ada@clinic.test"), password: "x".repeat(12) } })
      )
      const unknown = yield* Effect.flip(
        api.auth.login({ payload: { email: Email.make("eve@clinic.test"), password } })
      )
      assert.strictEqual(wrong._tag, "Unauthorized")
      assert.deepStrictEqual(wrong, unknown)
      assert.strictEqual((yield* tables).authSessions.size, 0)
      const response = yield* HttpClient.execute(
        HttpClientRequest.post("/auth/login").pipe(
          HttpClientRequest.bodyUnsafeJson({ email: "eve@clinic.test", password })
        )
      )
      assert.strictEqual(response.status, 401)
    }).pipe(withServer()))

  it.scoped("missing and unknown tokens are 401", () =>
    Effect.gen(function*() {
      yield* startClock
      const anonymous = yield* HttpClient.execute(HttpClientRequest.get("/auth/me"))
      assert.strictEqual(anonymous.status, 401)
      const forged = yield* HttpClient.execute(
        HttpClientRequest.get("/auth/me").pipe(HttpClientRequest.bearerToken("A".repeat(43)))
      )
      assert.strictEqual(forged.status, 401)
    }).pipe(withServer()))

  it.scoped("a session ends at its absolute lifetime however active it is", () =>
    Effect.gen(function*() {
      yield* startClock
      const session = yield* signUp()
      // Active every 20 minutes, well within the 1-hour idle timeout, until the 2-hour lifetime.
      for (let i = 0; i < 5; i++) {
        yield* TestClock.adjust("20 minutes")
        assert.strictEqual(yield* meStatus(session), "ok")
      }
      yield* TestClock.adjust("19 minutes")
      assert.strictEqual(yield* meStatus(session), "ok")
      yield* TestClock.adjust("1 minute")
      const error = yield* Effect.flip(me(session))
      assert.strictEqual(error._tag, "Unauthorized")
      assert.strictEqual(error.message, "The session has expired")
      // Refused although nothing removed it yet.
      assert.isTrue((yield* tables).authSessions.has(session.session.id))
    }).pipe(withServer({ API_SESSION_LIFETIME: "2 hours", API_SESSION_IDLE_TIMEOUT: "1 hour" })))

  it.scoped("a session idle for the timeout is refused; activity keeps it alive", () =>
    Effect.gen(function*() {
      yield* startClock
      const session = yield* signUp()
      yield* TestClock.adjust("23 hours")
      assert.strictEqual(yield* meStatus(session), "ok")
      yield* TestClock.adjust("23 hours")
      assert.strictEqual(yield* meStatus(session), "ok")
      yield* TestClock.adjust("24 hours")
      const error = yield* Effect.flip(me(session))
      assert.strictEqual(error.message, "The session timed out")
      assert.isTrue((yield* tables).authSessions.has(session.session.id))
    }).pipe(withServer()))

  it.scoped("an idle timeout of seconds, as configured for manual tests", () =>
    Effect.gen(function*() {
      yield* startClock
      const session = yield* signUp()
      yield* TestClock.adjust("4 seconds")
      assert.strictEqual(yield* meStatus(session), "ok")
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual(yield* meStatus(session), "Unauthorized")
    }).pipe(withServer({ API_SESSION_IDLE_TIMEOUT: "5 seconds", API_SESSION_TOUCH_INTERVAL: "1 second" })))

  it.scoped("last_active_at is written at most once per 5 minutes", () =>
    Effect.gen(function*() {
      yield* startClock
      const session = yield* signUp()
      assert.strictEqual(yield* storedLastActive(session), at("0 millis"))
      yield* TestClock.adjust("4 minutes")
      assert.strictEqual(yield* meStatus(session), "ok")
      assert.strictEqual(yield* storedLastActive(session), at("0 millis"))
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(yield* meStatus(session), "ok")
      assert.strictEqual(yield* storedLastActive(session), at("5 minutes"))
      yield* TestClock.adjust("4 minutes")
      assert.strictEqual(yield* meStatus(session), "ok")
      assert.strictEqual(yield* meStatus(session), "ok")
      assert.strictEqual(yield* storedLastActive(session), at("5 minutes"))
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(yield* meStatus(session), "ok")
      assert.strictEqual(yield* storedLastActive(session), at("10 minutes"))
    }).pipe(withServer()))

  it.scoped("logout ends the session: its token is 401 at once", () =>
    Effect.gen(function*() {
      yield* startClock
      const session = yield* signUp()
      yield* Effect.flatMap(client(session.token), (api) => api.auth.logout())
      assert.strictEqual(yield* meStatus(session), "Unauthorized")
      assert.strictEqual((yield* tables).authSessions.size, 0)
    }).pipe(withServer()))

  it.scoped("sessions lists the caller's own; revoking one makes its token 401; another's is 404", () =>
    Effect.gen(function*() {
      yield* startClock
      const first = yield* signUp("ada@clinic.test")
      yield* TestClock.adjust("1 minute")
      const second = yield* login("ada@clinic.test")
      const other = yield* signUp("bob@clinic.test")
      const api = yield* client(first.token)

      const listed = yield* api.auth.sessions()
      assert.deepStrictEqual(listed.map((s) => [s.id, s.current]), [[second.session.id, false], [
        first.session.id,
        true
      ]])

      const foreign = yield* Effect.flip(api.auth.revokeSession({ path: { id: other.session.id } }))
      assert.strictEqual(foreign._tag, "NotFound")
      assert.strictEqual(yield* meStatus(other), "ok")

      yield* api.auth.revokeSession({ path: { id: second.session.id } })
      assert.strictEqual(yield* meStatus(second), "Unauthorized")
      assert.strictEqual(yield* meStatus(first), "ok")
      assert.deepStrictEqual((yield* api.auth.sessions()).map((s) => s.id), [first.session.id])

      const missing = yield* Effect.flip(api.auth.revokeSession({ path: { id: second.session.id } }))
      assert.strictEqual(missing._tag, "NotFound")
    }).pipe(withServer()))

  it.scoped("auth session media: a PNG is stored under a server-generated name and recorded; logout removes it", () =>
    Effect.gen(function*() {
      yield* startClock
      const fs = yield* FileSystem.FileSystem
      const { dir } = (yield* ApiConfig).authSessionMedia
      const session = yield* signUp()
      const api = yield* client(session.token)
      const media = yield* api.auth.uploadAuthSessionMedia({ payload: form(PNG, "../../etc/passwd.png") })
      assert.strictEqual(media.kind, "image")
      assert.strictEqual(media.format, "png")
      assert.strictEqual(media.sizeBytes, PNG.length)
      assert.strictEqual(media.authSessionId, session.session.id)

      const row = (yield* tables).authSessionMedia.get(media.id)!
      assert.match(row.filePath, /^[0-9a-f-]{36}\.png$/)
      assert.deepStrictEqual(yield* fs.readFile(Path.join(dir, row.filePath)), PNG)
      assert.deepStrictEqual(yield* fs.readDirectory(dir), [row.filePath])

      yield* api.auth.logout()
      assert.isFalse(yield* fs.exists(Path.join(dir, row.filePath)))
      assert.strictEqual((yield* tables).authSessionMedia.size, 0)
    }).pipe(withServer()))

  it.scoped("auth session media: too large is 413, an unknown type is 415, without a token 401; nothing is kept", () =>
    Effect.gen(function*() {
      yield* startClock
      const fs = yield* FileSystem.FileSystem
      const { dir } = (yield* ApiConfig).authSessionMedia
      const session = yield* signUp()
      const upload = (data: FormData, token = session.token) =>
        HttpClient.execute(
          HttpClientRequest.post("/auth/sessions/current/media").pipe(
            HttpClientRequest.bearerToken(token),
            HttpClientRequest.bodyFormData(data)
          )
        )

      const big = new Uint8Array(4096)
      big.set(PNG)
      const tooLarge = yield* upload(form(big))
      assert.strictEqual(tooLarge.status, 413)
      assert.strictEqual((yield* errorBody(tooLarge))._tag, "PayloadTooLarge")

      // Announced larger than the limit allows: refused on its Content-Length, whatever it holds.
      const huge = yield* upload(form(new Uint8Array(200_000).fill(1)))
      assert.strictEqual(huge.status, 413)

      const text = new TextEncoder().encode("<html><body>not an image, whatever the name says</body></html>")
      const wrongType = yield* upload(form(text, "photo.png", "image/png"))
      assert.strictEqual(wrongType.status, 415)
      assert.strictEqual((yield* errorBody(wrongType))._tag, "UnsupportedMediaType")

      const noFile = new FormData()
      noFile.append("note", "hello")
      const missing = yield* upload(noFile)
      assert.strictEqual(missing.status, 400)

      const anonymous = yield* HttpClient.execute(
        HttpClientRequest.post("/auth/sessions/current/media").pipe(HttpClientRequest.bodyFormData(form(PNG)))
      )
      assert.strictEqual(anonymous.status, 401)

      assert.strictEqual((yield* tables).authSessionMedia.size, 0)
      assert.deepStrictEqual(yield* fs.readDirectory(dir), [])

      const ok = yield* upload(form(PNG))
      assert.strictEqual(ok.status, 201)
    }).pipe(withServer({ API_AUTH_SESSION_MEDIA_MAX_BYTES: "1024" })))
})
