import { DateTime, ParseResult, Schema } from "effect"

/**
 * An instant in UTC. It decodes from an ISO 8601 string (JSON) or a `Date` (what `pg` returns for
 * `timestamptz`) and always encodes to an ISO 8601 string, so one entity schema serves both the
 * HTTP contract and the repositories.
 */
export const Timestamp = Schema.transformOrFail(
  Schema.Union(Schema.DateFromSelf, Schema.String),
  Schema.DateTimeUtcFromSelf,
  {
    strict: true,
    decode: (input, _options, ast) => {
      const parsed = DateTime.make(input)
      return parsed._tag === "Some"
        ? ParseResult.succeed(DateTime.toUtc(parsed.value))
        : ParseResult.fail(new ParseResult.Type(ast, input, "Expected an ISO 8601 date-time"))
    },
    encode: (dateTime) => ParseResult.succeed(DateTime.formatIso(dateTime))
  }
).annotations({
  identifier: "Timestamp",
  jsonSchema: { type: "string", format: "date-time" }
})
export type Timestamp = typeof Timestamp.Type
