import { Booking, BookingId, PatientId, UserId } from "@clinic/domain"
import { assert, describe, it } from "@effect/vitest"
import { DateTime } from "effect"
import ICAL from "ical.js"
import { foldLine, renderFeed } from "../src/ICalendar.js"

const now = DateTime.unsafeMake("2026-03-02T09:00:00.000Z")
const therapistId = UserId.make(crypto.randomUUID())

const booking = (startsAt: string, endsAt: string, status: Booking["status"], holdExpiresAt: string | null = null) =>
  new Booking({
    id: BookingId.make(crypto.randomUUID()),
    therapistId,
    patientId: PatientId.make(crypto.randomUUID()),
    startsAt: DateTime.unsafeMake(startsAt),
    endsAt: DateTime.unsafeMake(endsAt),
    status,
    holdExpiresAt: holdExpiresAt === null ? null : DateTime.unsafeMake(holdExpiresAt),
    createdAt: now,
    updatedAt: now
  })

const parse = (text: string) => {
  const calendar = new ICAL.Component(ICAL.parse(text))
  return { calendar, events: calendar.getAllSubcomponents("vevent").map((c) => ({ c, e: new ICAL.Event(c) })) }
}

describe("iCalendar feed", () => {
  it("imports into ical.js with the right times, summaries and statuses", () => {
    const confirmed = booking("2026-03-03T10:00:00.000Z", "2026-03-03T10:50:00.000Z", "confirmed")
    const held = booking("2026-03-02T14:30:00.000Z", "2026-03-02T15:20:00.000Z", "pending", "2026-03-02T09:15:00.000Z")
    const cancelled = booking("2026-03-04T10:00:00.000Z", "2026-03-04T11:00:00.000Z", "cancelled")
    const lapsed = booking(
      "2026-03-05T10:00:00.000Z",
      "2026-03-05T11:00:00.000Z",
      "pending",
      "2026-03-02T08:59:00.000Z"
    )
    const summary = "Séance: P. Müller; follow-up, \"intake\" \\ notes\nsecond line — with a long tail " +
      "ü".repeat(40)
    const text = renderFeed({ name: "Dr Test bookings", now }, [
      { booking: confirmed, summary },
      { booking: held, summary: "Session (held)", location: "Room 2" },
      { booking: cancelled, summary: "Cancelled" },
      { booking: lapsed, summary: "Lapsed hold" }
    ])

    const { calendar, events } = parse(text)
    assert.strictEqual(calendar.getFirstPropertyValue("x-wr-calname"), "Dr Test bookings")
    assert.strictEqual(events.length, 2, "cancelled and lapsed bookings are left out")
    const [first, second] = events
    // Sorted by start: the held one is today.
    assert.strictEqual(first.e.uid, `${held.id}@clinic.localhost`)
    assert.strictEqual(first.e.startDate.toJSDate().toISOString(), "2026-03-02T14:30:00.000Z")
    assert.strictEqual(first.e.endDate.toJSDate().toISOString(), "2026-03-02T15:20:00.000Z")
    assert.strictEqual(first.e.location, "Room 2")
    assert.strictEqual(first.c.getFirstPropertyValue("status"), "TENTATIVE")
    assert.strictEqual(second.e.summary, summary)
    assert.strictEqual(second.e.startDate.toJSDate().toISOString(), "2026-03-03T10:00:00.000Z")
    assert.strictEqual(second.e.duration.toSeconds(), 50 * 60)
    assert.strictEqual(second.c.getFirstPropertyValue("status"), "CONFIRMED")
    assert.strictEqual(second.c.getFirstPropertyValue("dtstamp")!.toString(), "2026-03-02T09:00:00Z")

    // Wire format: CRLF everywhere, no physical line over 75 octets.
    assert.isTrue(text.endsWith("END:VCALENDAR\r\n"))
    assert.notMatch(text, /[^\r]\n/)
    for (const line of text.split("\r\n")) assert.isAtMost(new TextEncoder().encode(line).length, 75)
  })

  it("includes inactive bookings as CANCELLED when asked", () => {
    const cancelled = booking("2026-03-04T10:00:00.000Z", "2026-03-04T11:00:00.000Z", "cancelled")
    const { events } = parse(
      renderFeed({ name: "x", now, includeInactive: true }, [{ booking: cancelled, summary: "s" }])
    )
    assert.strictEqual(events.length, 1)
    assert.strictEqual(events[0].c.getFirstPropertyValue("status"), "CANCELLED")
  })

  it("folds by octets without splitting a character", () => {
    const folded = foldLine("SUMMARY:" + "€".repeat(40))
    const lines = folded.split("\r\n ")
    assert.isTrue(lines.length > 1)
    for (const line of lines) assert.isAtMost(new TextEncoder().encode(line).length, 75)
    assert.strictEqual(lines.join(""), "SUMMARY:" + "€".repeat(40))
  })
})
