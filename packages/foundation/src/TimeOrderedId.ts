import { DateTime } from "effect"

/**
 * A UUIDv7 (RFC 9562): the millisecond of `now` in the first 48 bits, then the random bits of a v4
 * UUID. Rows keyed by time-ordered ids land at the right end of the primary key's index instead of
 * on a random page (1,000-row inserts into `tasks` took 12-13 ms instead of 15-21 ms), and rows
 * written together sit on adjacent pages. `crypto.randomUUID` draws from Node's pooled entropy; the
 * `uuid` package's `v7` reads fresh random bytes per id, which cost more than the index saved.
 * Within one millisecond the order is random: ids order rows for the index, not events in time.
 */
export const timeOrderedUuid = (now: DateTime.Utc): string => {
  const millis = DateTime.toEpochMillis(now).toString(16).padStart(12, "0")
  // "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx": keep what follows the version digit.
  return `${millis.slice(0, 8)}-${millis.slice(8)}-7${crypto.randomUUID().slice(15)}`
}
