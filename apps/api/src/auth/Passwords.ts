import { Effect } from "effect"
import * as Crypto from "node:crypto"

/** scrypt's cost: N = 2^logN, block size r, parallelism p. */
export interface ScryptParams {
  readonly logN: number
  readonly r: number
  readonly p: number
}

const SALT_BYTES = 16
const KEY_BYTES = 32
// Stored parameters are trusted only within these bounds, so that a tampered row cannot make a
// sign-in allocate gigabytes.
const MAX_LOG_N = 20
const MAX_R = 32
const MAX_P = 16

/** What `hash` uses in production, unless `API_SCRYPT_LOG_N` raises it: OWASP's minimum for scrypt. */
export const productionParams = (logN: number): ScryptParams => ({ logN, r: 8, p: 1 })

// The asynchronous `scrypt` runs on libuv's thread pool: a login never blocks the event loop.
const derive = (password: string, salt: Buffer, params: ScryptParams, keyLength: number) =>
  Effect.async<Buffer>((resume) => {
    const N = 2 ** params.logN
    // scrypt needs 128 * N * r bytes (128 MiB at N = 2^17, r = 8); Node refuses anything above
    // `maxmem` (32 MiB by default), so it is set to twice the need plus a margin.
    const maxmem = 128 * N * params.r * 2 + 1024 * 1024
    Crypto.scrypt(
      password.normalize("NFKC"),
      salt,
      keyLength,
      { N, r: params.r, p: params.p, maxmem },
      (error, key) => resume(error ? Effect.die(error) : Effect.succeed(key))
    )
  })

/**
 * Hashes a password with a fresh random salt, as `scrypt$N$r$p$salt$hash` (base64url), so that each
 * stored hash says how to verify it even after the cost is raised.
 */
export const hash = (password: string, params: ScryptParams): Effect.Effect<string> =>
  Effect.gen(function*() {
    const salt = Crypto.randomBytes(SALT_BYTES)
    const key = yield* derive(password, salt, params, KEY_BYTES)
    return ["scrypt", 2 ** params.logN, params.r, params.p, salt.toString("base64url"), key.toString("base64url")]
      .join("$")
  }).pipe(Effect.withSpan("Passwords.hash"))

interface Decoded {
  readonly params: ScryptParams
  readonly salt: Buffer
  readonly key: Buffer
}

const decode = (encoded: string): Decoded | undefined => {
  const parts = encoded.split("$")
  if (parts.length !== 6 || parts[0] !== "scrypt") return undefined
  const [N, r, p] = parts.slice(1, 4).map((part) => /^\d+$/.test(part) ? Number(part) : NaN)
  const logN = Math.log2(N)
  if (!Number.isInteger(logN) || logN < 1 || logN > MAX_LOG_N) return undefined
  if (!(r >= 1 && r <= MAX_R && p >= 1 && p <= MAX_P)) return undefined
  const salt = Buffer.from(parts[4], "base64url")
  const key = Buffer.from(parts[5], "base64url")
  if (salt.length === 0 || key.length === 0) return undefined
  return { params: { logN, r, p }, salt, key }
}

/**
 * Whether `password` matches `encoded`. The comparison takes the same time wherever the keys
 * differ; a malformed hash never matches.
 */
export const verify = (password: string, encoded: string): Effect.Effect<boolean> =>
  Effect.suspend(() => {
    const decoded = decode(encoded)
    if (decoded === undefined) return Effect.succeed(false)
    return derive(password, decoded.salt, decoded.params, decoded.key.length).pipe(
      Effect.map((key) => Crypto.timingSafeEqual(key, decoded.key))
    )
  }).pipe(Effect.withSpan("Passwords.verify"))

/**
 * Whether a hash that just verified should be replaced by one made with `params`: it was made with
 * a lower cost (N, r or p) than today's. A hash that does not decode never verified, so it is never
 * rehashed here.
 */
export const needsRehash = (encoded: string, params: ScryptParams): boolean => {
  const decoded = decode(encoded)
  return decoded !== undefined &&
    (decoded.params.logN < params.logN || decoded.params.r < params.r || decoded.params.p < params.p)
}
