import type { Redacted } from "effect"
import { Context, Effect, Encoding, Layer, Redacted as R, Schema } from "effect"
import { InvalidCursor } from "./HttpErrors.js"

export const DEFAULT_PAGE_LIMIT = 20
export const MAX_PAGE_LIMIT = 100

/** `?limit=`: an integer from 1 to 100; the server uses 20 when it is absent. */
export const PageLimit = Schema.NumberFromString.pipe(
  Schema.int({ message: () => "limit must be an integer" }),
  Schema.between(1, MAX_PAGE_LIMIT, { message: () => `limit must be between 1 and ${MAX_PAGE_LIMIT}` })
)

/** An opaque keyset position handed out as `nextCursor`; only its issuer can read it. */
export const Cursor = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(512)).annotations({
  description: "Opaque cursor from a previous page's nextCursor"
})

export const PageParams = {
  limit: Schema.optional(PageLimit),
  cursor: Schema.optional(Cursor)
}

/** One page of a keyset-paginated list; `nextCursor` is null on the last page. */
export const Page = <A, I, R>(item: Schema.Schema<A, I, R>, identifier: string) =>
  Schema.Struct({
    items: Schema.Array(item),
    nextCursor: Schema.NullOr(Cursor)
  }).annotations({ identifier })

/**
 * Seals keyset positions into cursors and opens them again: `<payload>.<HMAC-SHA256 of payload>`,
 * both base64url. A cursor this server did not issue (edited, re-encoded, or from a server with
 * another secret) does not open, so a client cannot steer a query through one. The secret must be
 * the same on every replica that serves a list.
 */
export class Pagination extends Context.Tag("@clinic/domain/Pagination")<Pagination, {
  readonly seal: (payload: string) => Effect.Effect<string>
  /** The payload of a cursor this server sealed, or `undefined`. */
  readonly open: (cursor: string) => Effect.Effect<string | undefined>
}>() {
  /** Web Crypto's HMAC, so that the contract stays free of any one runtime's modules. */
  static readonly layer = (secret: Redacted.Redacted<string>): Layer.Layer<Pagination> =>
    Layer.effect(
      Pagination,
      Effect.gen(function*() {
        const key = yield* Effect.promise(() =>
          crypto.subtle.importKey(
            "raw",
            new TextEncoder().encode(R.value(secret)),
            { name: "HMAC", hash: "SHA-256" },
            false,
            ["sign", "verify"]
          )
        )
        return Pagination.of({
          seal: (payload) =>
            Effect.promise(() => crypto.subtle.sign("HMAC", key, new TextEncoder().encode(payload))).pipe(
              Effect.map((mac) => `${payload}.${Encoding.encodeBase64Url(new Uint8Array(mac))}`),
              Effect.withSpan("Pagination.seal")
            ),
          open: (cursor) =>
            Effect.suspend(() => {
              const dot = cursor.lastIndexOf(".")
              const payload = cursor.slice(0, dot)
              const mac = Encoding.decodeBase64Url(cursor.slice(dot + 1))
              if (dot <= 0 || mac._tag === "Left" || Encoding.encodeBase64Url(mac.right) !== cursor.slice(dot + 1)) {
                return Effect.succeed(undefined)
              }
              // `verify` compares in constant time.
              return Effect.promise(() =>
                crypto.subtle.verify("HMAC", key, mac.right, new TextEncoder().encode(payload))
              )
                .pipe(Effect.map((valid) => (valid ? payload : undefined)))
            }).pipe(Effect.withSpan("Pagination.open"))
        })
      })
    )
}

const invalidCursor = new InvalidCursor({
  message: "cursor: not a cursor from this list's nextCursor; start again without it"
})

/**
 * The cursor of one list: the sort key of a page's last row, as JSON in base64url, sealed by
 * `Pagination`. Opaque to clients so that the sort key can change without breaking them.
 */
export const makeCursor = <A, I>(position: Schema.Schema<A, I>) => {
  const codec = Schema.compose(Schema.StringFromBase64Url, Schema.parseJson(position))
  const encode = Schema.encodeSync(codec)
  const decode = Schema.decodeEither(codec)
  return {
    encode: (value: A): Effect.Effect<string, never, Pagination> =>
      Effect.flatMap(Pagination, (pagination) => pagination.seal(encode(value))),
    decode: (cursor: string | undefined): Effect.Effect<A | undefined, InvalidCursor, Pagination> =>
      cursor === undefined ? Effect.succeed(undefined) : Effect.gen(function*() {
        const payload = yield* Effect.flatMap(Pagination, (pagination) => pagination.open(cursor))
        if (payload === undefined) return yield* invalidCursor
        const decoded = decode(payload)
        // A sealed payload that no longer decodes is one of an older sort key: as invalid.
        return decoded._tag === "Right" ? decoded.right : yield* invalidCursor
      })
  }
}

/** Cuts one extra row off a `limit + 1` read: its presence is what says another page exists. */
export const toPage = <A, E, R>(
  rows: ReadonlyArray<A>,
  limit: number,
  cursorOf: (last: A) => Effect.Effect<string, E, R>
): Effect.Effect<{ readonly items: ReadonlyArray<A>; readonly nextCursor: string | null }, E, R> => {
  const items = rows.slice(0, limit)
  return rows.length > limit
    ? Effect.map(cursorOf(items[items.length - 1]), (nextCursor) => ({ items, nextCursor }))
    : Effect.succeed({ items, nextCursor: null })
}
