import { Schema } from "effect"

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
