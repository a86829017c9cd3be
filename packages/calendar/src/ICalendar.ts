import { type Booking, type BookingStatus, effectiveStatus } from "@clinic/domain"
import { DateTime } from "effect"

/** One booking as it appears in a feed; the caller decides what the summary reveals. */
export interface FeedEntry {
  readonly booking: Booking
  readonly summary: string
  readonly description?: string
  readonly location?: string
}

export interface FeedOptions {
  /** Shown by calendar apps as the calendar's name. */
  readonly name: string
  /** The Clock's now: stamps the feed and decides which holds have lapsed. */
  readonly now: DateTime.Utc
  /** Cancelled and expired bookings are left out unless asked for (then marked CANCELLED). */
  readonly includeInactive?: boolean
  /** Makes UIDs globally unique, per RFC 5545. */
  readonly uidDomain?: string
}

const statusOf: Record<BookingStatus, string> = {
  pending: "TENTATIVE",
  confirmed: "CONFIRMED",
  cancelled: "CANCELLED",
  expired: "CANCELLED"
}

/** `DATE-TIME` in UTC form: 20260302T090000Z. */
export const formatDateTime = (instant: DateTime.Utc): string =>
  DateTime.formatIso(instant).replace(/\.\d{3}Z$/, "Z").replace(/[-:]/g, "")

/** TEXT escaping (RFC 5545 §3.3.11). */
export const escapeText = (text: string): string =>
  text.replace(/\\/g, "\\\\").replace(/;/g, "\\;").replace(/,/g, "\\,").replace(/\r?\n/g, "\\n")

const encoder = new TextEncoder()

/**
 * Folds a content line to at most 75 octets per physical line (RFC 5545 §3.1), never inside a
 * UTF-8 sequence, continuation lines starting with one space.
 */
export const foldLine = (line: string): string => {
  const parts: Array<string> = []
  let current = ""
  let octets = 0
  for (const char of line) {
    const size = encoder.encode(char).length
    const limit = parts.length === 0 ? 75 : 74
    if (octets + size > limit) {
      parts.push(current)
      current = ""
      octets = 0
    }
    current += char
    octets += size
  }
  parts.push(current)
  return parts.join("\r\n ")
}

/** An iCalendar (RFC 5545) document of the given bookings, with CRLF line endings. */
export const renderFeed = (options: FeedOptions, entries: ReadonlyArray<FeedEntry>): string => {
  const domain = options.uidDomain ?? "clinic.localhost"
  const stamp = formatDateTime(options.now)
  const lines = [
    "BEGIN:VCALENDAR",
    "VERSION:2.0",
    "PRODID:-//Clinic//Bookings//EN",
    "CALSCALE:GREGORIAN",
    "METHOD:PUBLISH",
    `X-WR-CALNAME:${escapeText(options.name)}`
  ]
  const sorted = [...entries].sort((a, b) =>
    DateTime.toEpochMillis(a.booking.startsAt) - DateTime.toEpochMillis(b.booking.startsAt)
  )
  for (const entry of sorted) {
    const status = effectiveStatus(entry.booking, options.now)
    if (!options.includeInactive && (status === "cancelled" || status === "expired")) continue
    lines.push(
      "BEGIN:VEVENT",
      `UID:${entry.booking.id}@${domain}`,
      `DTSTAMP:${stamp}`,
      `DTSTART:${formatDateTime(entry.booking.startsAt)}`,
      `DTEND:${formatDateTime(entry.booking.endsAt)}`,
      `LAST-MODIFIED:${formatDateTime(entry.booking.updatedAt)}`,
      `SUMMARY:${escapeText(entry.summary)}`,
      ...(entry.description !== undefined ? [`DESCRIPTION:${escapeText(entry.description)}`] : []),
      ...(entry.location !== undefined ? [`LOCATION:${escapeText(entry.location)}`] : []),
      `STATUS:${statusOf[status]}`,
      "TRANSP:OPAQUE",
      "END:VEVENT"
    )
  }
  lines.push("END:VCALENDAR")
  return lines.map(foldLine).join("\r\n") + "\r\n"
}
