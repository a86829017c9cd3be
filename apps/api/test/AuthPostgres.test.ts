import { Email } from "@clinic/domain"
import { AuthSessionRepo } from "@clinic/repository"
import { FileSystem, HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Layer, TestClock } from "effect"
import * as Path from "node:path"
import { ApiConfig } from "../src/ApiConfig.js"
import { client, postgresServer } from "./support/TestApi.js"

const T0 = DateTime.unsafeMake("2026-03-02T09:00:00.000Z")
const startClock = TestClock.setTime(DateTime.toEpochMillis(T0))
const password = "correct horse battery staple"
const PNG = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...new Array(200).fill(1)])

describe("auth over HTTP (Postgres)", () => {
  it.scoped("register, login, me, throttled activity, idle timeout, media and logout", () =>
    Effect.gen(function*() {
      yield* startClock
      const sql = yield* SqlClient.SqlClient
      const repo = yield* AuthSessionRepo
      const fs = yield* FileSystem.FileSystem
      const api = yield* client()
      const email = Email.make("ada@clinic.test")

      const user = yield* api.auth.register({ payload: { email, name: "Ada Lovelace", password } })
      const duplicate = yield* Effect.flip(api.auth.register({ payload: { email, name: "Ada", password } }))
      assert.strictEqual(duplicate._tag, "EmailAlreadyRegistered")
      const wrong = yield* Effect.flip(api.auth.login({ payload: { email, password: "not the password" } }))
      assert.strictEqual(wrong._tag, "Unauthorized")

      const login = yield* api.auth.login({ payload: { email, password } })
      const authed = yield* client(login.token)
      assert.deepStrictEqual(yield* authed.auth.me(), user)

      // Only the digest is stored, and the password only as an scrypt hash.
      const [row] = yield* sql<{ tokenHash: string }>`SELECT token_hash FROM auth_sessions`
      assert.match(row.tokenHash, /^[0-9a-f]{64}$/)
      const [credentials] = yield* sql<{ passwordHash: string }>`SELECT password_hash FROM users`
      assert.match(credentials.passwordHash, /^scrypt\$1024\$8\$1\$[\w-]+\$[\w-]+$/)

      const lastActive = Effect.map(repo.findById(login.session.id), (s) => DateTime.formatIso(s.lastActiveAt))
      yield* TestClock.adjust("4 minutes")
      yield* authed.auth.me()
      assert.strictEqual(yield* lastActive, "2026-03-02T09:00:00.000Z")
      yield* TestClock.adjust("2 minutes")
      yield* authed.auth.me()
      assert.strictEqual(yield* lastActive, "2026-03-02T09:06:00.000Z")

      const media = yield* authed.auth.uploadAuthSessionMedia({
        payload: (() => {
          const data = new FormData()
          data.append("file", new Blob([PNG], { type: "image/png" }), "x.png")
          return data
        })()
      })
      const [stored] = yield* repo.listMedia(login.session.id)
      assert.strictEqual(stored.id, media.id)
      const { dir } = (yield* ApiConfig).authSessionMedia
      assert.isTrue(yield* fs.exists(Path.join(dir, stored.filePath)))

      // A second session, idle past the timeout: refused although its row is still there.
      const idle = yield* api.auth.login({ payload: { email, password } })
      yield* TestClock.adjust("23 hours")
      yield* authed.auth.me()
      yield* TestClock.adjust("1 hour")
      const timedOut = yield* HttpClient.execute(
        HttpClientRequest.get("/auth/me").pipe(HttpClientRequest.bearerToken(idle.token))
      )
      assert.strictEqual(timedOut.status, 401)
      assert.strictEqual((yield* repo.findById(idle.session.id)).id, idle.session.id)
      assert.deepStrictEqual((yield* authed.auth.sessions()).map((s) => s.id), [login.session.id])

      yield* authed.auth.logout()
      assert.strictEqual((yield* Effect.flip(authed.auth.me()))._tag, "Unauthorized")
      assert.isFalse(yield* fs.exists(Path.join(dir, stored.filePath)))
      const [count] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM auth_session_media`
      assert.strictEqual(count.n, 0)
    }).pipe(Effect.provide(Layer.merge(postgresServer({ signIn: "tokens" }), NodeFileSystem.layer))))
})
