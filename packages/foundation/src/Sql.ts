import { DateTime } from "effect"

/** Postgres error codes we turn into domain errors; everything else stays a defect. */
export const PgErrorCode = {
  uniqueViolation: "23505",
  exclusionViolation: "23P01",
  deadlockDetected: "40P01"
} as const

/** The Postgres error code carried by a `SqlError`'s cause, if any. */
export const pgErrorCode = (error: { readonly cause?: unknown }): string | undefined => {
  const cause = error.cause as { readonly code?: unknown } | undefined
  return typeof cause?.code === "string" ? cause.code : undefined
}

/**
 * Codes that say the database could not be reached or stopped answering, not that the statement
 * was wrong: SQLSTATE class 08 (connection exception), 53300 (too many connections), 57014 (the
 * statement timeout cancelled it), 57P01/57P02/57P03 (admin or crash shutdown, cannot connect
 * now), and the socket errors Node reports while connecting or reading.
 */
const connectionCodes = new Set([
  "53300",
  "57014",
  "57P01",
  "57P02",
  "57P03",
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN"
])

// What `pg` and its pool say without a code: a socket closed under a query, a connect or pool
// checkout past `connectionTimeoutMillis`, a query past `query_timeout`.
const connectionMessages =
  /Connection terminated|timeout exceeded when trying to connect|Query read timeout|not queryable|Connection timed out/

/**
 * True for a `SqlError` whose cause is a connection-class failure (see `connectionCodes`): the
 * database is down, restarting, frozen or out of connections. Anything else (a constraint, a
 * syntax error, a domain error) is false.
 */
export const isConnectionFailure = (error: unknown): boolean => {
  if (typeof error !== "object" || error === null || (error as { _tag?: unknown })._tag !== "SqlError") return false
  const code = pgErrorCode(error)
  if (code !== undefined) return code.startsWith("08") || connectionCodes.has(code)
  const cause = (error as { readonly cause?: unknown }).cause
  return cause instanceof Error && connectionMessages.test(cause.message)
}

/** Instants travel to Postgres as ISO strings, so the app's Clock (or TestClock) decides "now". */
export const iso = (instant: DateTime.Utc): string => DateTime.formatIso(instant)

/**
 * `iso` for the rows of one batch statement, formatting each distinct instant once: a batch's rows
 * mostly share their instants (one `now` for all), and formatting is most of the client's work.
 */
export const isoForBatch = (): (instant: DateTime.Utc) => string => {
  const formatted = new Map<DateTime.Utc, string>()
  return (instant) => {
    let found = formatted.get(instant)
    if (found === undefined) formatted.set(instant, found = iso(instant))
    return found
  }
}
