import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Passwords from "../src/auth/Passwords.js"

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
})
