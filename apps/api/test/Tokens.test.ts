import { assert, describe, it } from "@effect/vitest"
import * as Tokens from "../src/auth/Tokens.js"

describe("Tokens", () => {
  it("carry at least 128 random bits, URL-safe, never repeating", () => {
    const tokens = Array.from({ length: 1000 }, Tokens.generate)
    assert.strictEqual(new Set(tokens).size, tokens.length)
    for (const token of tokens) {
      assert.match(token, /^[A-Za-z0-9_-]+$/)
      assert.isAtLeast(Buffer.from(token, "base64url").length * 8, 128)
    }
  })

  it("are stored as their SHA-256, which does not contain them", () => {
    const token = Tokens.generate()
    const digest = Tokens.hash(token)
    assert.match(digest, /^[0-9a-f]{64}$/)
    assert.strictEqual(digest, Tokens.hash(token))
    assert.notStrictEqual(digest, Tokens.hash(Tokens.generate()))
    assert.notInclude(digest, token)
    // Known vector: SHA-256("abc").
    assert.strictEqual(Tokens.hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
  })

  it("digests compare equal only when identical", () => {
    const digest = Tokens.hash("a")
    assert.isTrue(Tokens.digestsEqual(digest, Tokens.hash("a")))
    assert.isFalse(Tokens.digestsEqual(digest, Tokens.hash("b")))
    assert.isFalse(Tokens.digestsEqual(digest, digest.slice(0, 62)))
    assert.isFalse(Tokens.digestsEqual("", ""))
  })
})
