import { Email } from "@clinic/domain"
import { UserRepo } from "@clinic/repository"
import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Either, Layer, Option } from "effect"
import * as Crypto from "node:crypto"
import { ApiConfig } from "../src/ApiConfig.js"
import * as Passwords from "../src/auth/Passwords.js"
import { client, memoryServer } from "./support/TestApi.js"

const cheap: Passwords.ScryptParams = { logN: 10, r: 8, p: 1 }

describe("Passwords", () => {
  it.effect("hash as scrypt$N$r$p$salt$hash with the parameters used", () =>
    Effect.gen(function*() {
      const encoded = yield* Passwords.hash("correct horse battery staple", cheap)
      const [scheme, N, r, p, salt, key] = encoded.split("$")
      assert.deepStrictEqual([scheme, N, r, p], ["scrypt", "1024", "8", "1"])
      assert.strictEqual(Buffer.from(salt, "base64url").length, 16)
      assert.strictEqual(Buffer.from(key, "base64url").length, 32)
      assert.notInclude(encoded, "horse")
    }))

  it.effect("use a fresh salt per hash, so equal passwords hash differently", () =>
    Effect.gen(function*() {
      const a = yield* Passwords.hash("same password here", cheap)
      const b = yield* Passwords.hash("same password here", cheap)
      assert.notStrictEqual(a.split("$")[4], b.split("$")[4])
      assert.notStrictEqual(a, b)
    }))

  it.effect("verify the right password only, with the parameters stored in the hash", () =>
    Effect.gen(function*() {
      const encoded = yield* Passwords.hash("correct horse battery staple", { logN: 11, r: 4, p: 2 })
      assert.isTrue(yield* Passwords.verify("correct horse battery staple", encoded))
      assert.isFalse(yield* Passwords.verify("correct horse battery stapler", encoded))
      assert.isFalse(yield* Passwords.verify("", encoded))
    }))

  it.effect("never match a malformed or out-of-bounds hash", () =>
    Effect.gen(function*() {
      const encoded = yield* Passwords.hash("correct horse battery staple", cheap)
      const parts = encoded.split("$")
      const variants = [
        "",
        "scrypt$not-a-real-hash",
        ["bcrypt", ...parts.slice(1)].join("$"),
        ["scrypt", "1000", ...parts.slice(2)].join("$"),
        ["scrypt", String(2 ** 24), ...parts.slice(2)].join("$"),
        [...parts.slice(0, 5), ""].join("$"),
        [...parts.slice(0, 5), Buffer.alloc(32).toString("base64url")].join("$")
      ]
      for (const variant of variants) {
        assert.isFalse(yield* Passwords.verify("correct horse battery staple", variant), variant)
      }
    }))

  it.effect("the stored key is standard scrypt of the password with the salt and parameters written", () =>
    Effect.gen(function*() {
      const password = "correct horse battery staple"
      const encoded = yield* Passwords.hash(password, { logN: 11, r: 4, p: 2 })
      const [, , , , salt, key] = encoded.split("$")
      const expected = Crypto.scryptSync(password, Buffer.from(salt, "base64url"), 32, { N: 2048, r: 4, p: 2 })
      assert.strictEqual(key, expected.toString("base64url"))
    }))

  it.effect("the lowest accepted costs (N = 2, r = 1, up to p = 16) verify without failing", () =>
    Effect.gen(function*() {
      for (const params of [{ logN: 1, r: 1, p: 1 }, { logN: 1, r: 1, p: 16 }]) {
        const encoded = yield* Passwords.hash("correct horse battery staple", params)
        assert.isTrue(yield* Passwords.verify("correct horse battery staple", encoded), encoded)
      }
    }))

  it.effect("a stored hash with an extra part, no salt, N = 1 or numbers that are not plain decimals never matches", () =>
    Effect.gen(function*() {
      const password = "correct horse battery staple"
      const encoded = yield* Passwords.hash(password, cheap)
      const parts = encoded.split("$")
      // A key that really is scrypt of the password without a salt: refused all the same.
      const unsalted = Crypto.scryptSync(password, Buffer.alloc(0), 32, { N: 1024, r: 8, p: 1 })
      const variants = [
        [...parts, "extra"].join("$"),
        ["scrypt", "1024", "8", "1", "", unsalted.toString("base64url")].join("$"),
        ["scrypt", "1", ...parts.slice(2)].join("$"),
        ["scrypt", "1024", "8e0", ...parts.slice(3)].join("$"),
        ["scrypt", "1024", "0x8", ...parts.slice(3)].join("$")
      ]
      for (const variant of variants) {
        assert.isFalse(yield* Passwords.verify(password, variant), variant)
      }
    }))
})

describe("password cost", () => {
  it.effect(
    "production hashes with scrypt N = 2^17, r = 8, p = 1 (OWASP's minimum), and verifies them",
    () =>
      Effect.gen(function*() {
        const config = yield* ApiConfig.load.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map())))
        const params = Passwords.productionParams(config.auth.scryptLogN)
        assert.deepStrictEqual(params, { logN: 17, r: 8, p: 1 })
        // One real hash at that cost: 128 MiB, above Node's default `maxmem`.
        const encoded = yield* Passwords.hash("correct horse battery staple", params)
        assert.match(encoded, /^scrypt\$131072\$8\$1\$/)
        assert.isTrue(yield* Passwords.verify("correct horse battery staple", encoded))
      }),
    30_000
  )

  it.effect("API_SCRYPT_LOG_N can raise the cost, never lower it", () =>
    Effect.gen(function*() {
      const load = (value: string) =>
        ApiConfig.load.pipe(
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["API_SCRYPT_LOG_N", value]]))),
          Effect.map((config) => config.auth.scryptLogN),
          Effect.either
        )
      assert.deepStrictEqual(yield* load("18"), Either.right(18))
      for (const value of ["16", "10", "21"]) assert.isTrue((yield* load(value))._tag === "Left", value)
    }))

  it.effect("needsRehash: only a hash made with a lower N, r or p than today's", () =>
    Effect.sync(() => {
      const today = { logN: 17, r: 8, p: 1 }
      const cases: ReadonlyArray<readonly [string, boolean]> = [
        ["scrypt$32768$8$1$c2FsdA$a2V5", true],
        ["scrypt$131072$4$1$c2FsdA$a2V5", true],
        ["scrypt$131072$8$1$c2FsdA$a2V5", false],
        ["scrypt$262144$8$1$c2FsdA$a2V5", false],
        ["scrypt$131072$8$2$c2FsdA$a2V5", false],
        ["not a hash", false]
      ]
      for (const [encoded, expected] of cases) {
        assert.strictEqual(Passwords.needsRehash(encoded, today), expected, encoded)
      }
      // A lower p than today's, when today's is raised.
      assert.isTrue(Passwords.needsRehash("scrypt$131072$8$1$c2FsdA$a2V5", { logN: 17, r: 8, p: 2 }))
    }))

  it.effect("needsRehash: stored parameters at the bounds (N up to 2^20, r 1 to 32, p 1 to 16) decode; beyond, never", () =>
    Effect.sync(() => {
      const today = { logN: 17, r: 8, p: 2 }
      const cases: ReadonlyArray<readonly [string, boolean]> = [
        // Within bounds and weaker than today's in some way: rehashed.
        ["scrypt$1048576$4$2$c2FsdA$a2V5", true],
        ["scrypt$1024$1$2$c2FsdA$a2V5", true],
        ["scrypt$1024$32$2$c2FsdA$a2V5", true],
        ["scrypt$1024$8$1$c2FsdA$a2V5", true],
        ["scrypt$1024$8$16$c2FsdA$a2V5", true],
        ["scrypt$2$8$2$c2FsdA$a2V5", true],
        // Out of bounds or malformed: such a hash never verified, so it is never rehashed.
        ["scrypt$1$8$2$c2FsdA$a2V5", false],
        ["scrypt$2097152$4$2$c2FsdA$a2V5", false],
        ["scrypt$1024$0$2$c2FsdA$a2V5", false],
        ["scrypt$1024$33$2$c2FsdA$a2V5", false],
        ["scrypt$1024$8$0$c2FsdA$a2V5", false],
        ["scrypt$1024$8$17$c2FsdA$a2V5", false],
        ["scrypt$1024$8$2$c2FsdA$a2V5$extra", false],
        ["scrypt$1024$8$2$$a2V5", false],
        ["scrypt$1024$8$2$c2FsdA$", false]
      ]
      for (const [encoded, expected] of cases) {
        assert.strictEqual(Passwords.needsRehash(encoded, today), expected, encoded)
      }
    }))
})

describe("password upgrade on login", () => {
  const email = Email.make("ada@clinic.test")
  const storedHash = Effect.flatMap(
    UserRepo,
    (users) => Effect.map(users.findCredentials(email), (c) => Option.getOrThrow(c).passwordHash)
  )

  it.scoped("a hash made with a lower cost verifies and is rewritten with today's on a successful login only", () =>
    Effect.gen(function*() {
      const password = "correct horse battery staple"
      // Today's cost in tests is N = 2^10; this account's hash dates from N = 2^8.
      const old = yield* Passwords.hash(password, { logN: 8, r: 8, p: 1 })
      yield* Effect.flatMap(
        UserRepo,
        (users) => users.insert({ email, name: "Ada", role: "therapist", passwordHash: old })
      )
      const api = yield* client()

      const wrong = yield* Effect.flip(api.auth.login({ payload: { email, password: "not the password" } }))
      assert.strictEqual(wrong._tag, "Unauthorized")
      assert.strictEqual(yield* storedHash, old)

      yield* api.auth.login({ payload: { email, password } })
      const upgraded = yield* storedHash
      assert.match(upgraded, /^scrypt\$1024\$8\$1\$/)
      assert.isTrue(yield* Passwords.verify(password, upgraded))

      // The new hash admits the same password; it is not rewritten again.
      yield* api.auth.login({ payload: { email, password } })
      assert.strictEqual(yield* storedHash, upgraded)
    }).pipe(Effect.provide(Layer.merge(memoryServer({ signIn: "tokens" }), NodeFileSystem.layer))))
})
