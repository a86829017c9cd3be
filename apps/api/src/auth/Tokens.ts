import * as Crypto from "node:crypto"

/** 256 bits from the operating system's CSPRNG: far beyond guessing, and beyond the 128 required. */
export const TOKEN_BYTES = 32

/** A fresh bearer token, URL-safe so that it travels in a header without escaping. */
export const generate = (): string => Crypto.randomBytes(TOKEN_BYTES).toString("base64url")

/**
 * What the database keeps instead of the token. A fast hash suffices: the token has 256 bits of
 * entropy, so there is nothing for a slow hash to protect against, and a leaked table of SHA-256
 * digests does not let anyone sign in.
 */
export const hash = (token: string): string => Crypto.createHash("sha256").update(token, "utf8").digest("hex")

/** Compares two hex digests in time independent of where they differ. */
export const digestsEqual = (a: string, b: string): boolean => {
  const left = Buffer.from(a, "hex")
  const right = Buffer.from(b, "hex")
  return left.length === right.length && left.length > 0 && Crypto.timingSafeEqual(left, right)
}
