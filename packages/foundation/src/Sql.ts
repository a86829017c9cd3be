import { DateTime } from "effect"

/** Postgres error codes we turn into domain errors; everything else stays a defect. */
export const PgErrorCode = {
  uniqueViolation: "23505",
  exclusionViolation: "23P01"
} as const

/** The Postgres error code carried by a `SqlError`'s cause, if any. */
export const pgErrorCode = (error: { readonly cause?: unknown }): string | undefined => {
  const cause = error.cause as { readonly code?: unknown } | undefined
  return typeof cause?.code === "string" ? cause.code : undefined
}

/** Instants travel to Postgres as ISO strings, so the app's Clock (or TestClock) decides "now". */
export const iso = (instant: DateTime.Utc): string => DateTime.formatIso(instant)
