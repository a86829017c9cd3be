import { InvalidCursor } from "@clinic/domain"
import { Effect, Schema } from "effect"

/**
 * An opaque keyset cursor: the sort key of the last row of a page as base64url JSON. Opaque to
 * clients so that the sort key can change without breaking them; validated on the way back in.
 */
export const makeCursor = <A, I>(position: Schema.Schema<A, I>) => {
  const codec = Schema.compose(Schema.StringFromBase64Url, Schema.parseJson(position))
  const encode = Schema.encodeSync(codec)
  const decode = Schema.decode(codec)
  return {
    encode: (value: A): string => encode(value),
    decode: (cursor: string | undefined): Effect.Effect<A | undefined, InvalidCursor> =>
      cursor === undefined
        ? Effect.succeed(undefined)
        : decode(cursor).pipe(
          Effect.mapError(() =>
            new InvalidCursor({ message: "cursor: not a cursor from this list's nextCursor; start again without it" })
          )
        )
  }
}

/** Cuts one extra row off a `limit + 1` read: its presence is what says another page exists. */
export const toPage = <A>(rows: ReadonlyArray<A>, limit: number, cursorOf: (last: A) => string) => {
  const items = rows.slice(0, limit)
  return { items, nextCursor: rows.length > limit ? cursorOf(items[items.length - 1]) : null }
}
