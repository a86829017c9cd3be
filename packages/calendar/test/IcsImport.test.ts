import { assert, describe, it } from "@effect/vitest"
import { DateTime, Either } from "effect"
import { type BusyInterval, parseBusy } from "../src/IcsImport.js"
import { calendar, event } from "./IcsFixtures.js"

const T0 = DateTime.unsafeMake("2026-03-02T09:00:00.000Z")
const window = { from: T0, to: DateTime.add(T0, { days: 60 }), maxIntervals: 1000 }

const berlin = [
  "BEGIN:VTIMEZONE",
  "TZID:Europe/Berlin",
  "BEGIN:DAYLIGHT",
  "TZOFFSETFROM:+0100",
  "TZOFFSETTO:+0200",
  "TZNAME:CEST",
  "DTSTART:19700329T020000",
  "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
  "END:DAYLIGHT",
  "BEGIN:STANDARD",
  "TZOFFSETFROM:+0200",
  "TZOFFSETTO:+0100",
  "TZNAME:CET",
  "DTSTART:19701025T030000",
  "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
  "END:STANDARD",
  "END:VTIMEZONE"
].join("\r\n")

const iso = (intervals: ReadonlyArray<BusyInterval>) =>
  intervals.map((i) => `${DateTime.formatIso(i.startsAt)}/${DateTime.formatIso(i.endsAt)}`)

const busy = (text: string, w = window) => Either.getOrThrowWith(parseBusy(text, w), (e) => new Error(e))

describe("parseBusy", () => {
  it("reads UTC, zoned (with the feed's VTIMEZONE, across DST) and DURATION events; skips free and cancelled", () => {
    const text = calendar(
      berlin,
      event("utc", "DTSTART:20260303T100000Z", "DTEND:20260303T110000Z"),
      // 10:00 in Berlin is 09:00Z in winter and 08:00Z after the switch on 29 March.
      event("winter", "DTSTART;TZID=Europe/Berlin:20260304T100000", "DTEND;TZID=Europe/Berlin:20260304T113000"),
      event("summer", "DTSTART;TZID=Europe/Berlin:20260401T100000", "DURATION:PT45M"),
      event("free", "DTSTART:20260305T100000Z", "DTEND:20260305T110000Z", "TRANSP:TRANSPARENT"),
      event("gone", "DTSTART:20260306T100000Z", "DTEND:20260306T110000Z", "STATUS:CANCELLED"),
      event("past", "DTSTART:20260301T100000Z", "DTEND:20260301T110000Z"),
      event("beyond", "DTSTART:20260601T100000Z", "DTEND:20260601T110000Z"),
      event("allday", "DTSTART;VALUE=DATE:20260310", "DTEND;VALUE=DATE:20260311")
    )
    assert.deepStrictEqual(iso(busy(text)), [
      "2026-03-03T10:00:00.000Z/2026-03-03T11:00:00.000Z",
      "2026-03-04T09:00:00.000Z/2026-03-04T10:30:00.000Z",
      "2026-03-10T00:00:00.000Z/2026-03-11T00:00:00.000Z",
      "2026-04-01T08:00:00.000Z/2026-04-01T08:45:00.000Z"
    ])
  })

  it("expands recurring events up to the horizon, with EXDATE, moved and cancelled occurrences", () => {
    const text = calendar(
      event(
        "weekly",
        "DTSTART:20260302T140000Z",
        "DTEND:20260302T150000Z",
        "RRULE:FREQ=WEEKLY",
        "EXDATE:20260309T140000Z"
      ),
      event("weekly", "RECURRENCE-ID:20260316T140000Z", "DTSTART:20260317T080000Z", "DTEND:20260317T090000Z"),
      event(
        "weekly",
        "RECURRENCE-ID:20260323T140000Z",
        "DTSTART:20260323T140000Z",
        "DTEND:20260323T150000Z",
        "STATUS:CANCELLED"
      )
    )
    const result = iso(busy(text, { ...window, to: DateTime.add(T0, { days: 28 }) }))
    assert.deepStrictEqual(result, [
      "2026-03-02T14:00:00.000Z/2026-03-02T15:00:00.000Z",
      "2026-03-17T08:00:00.000Z/2026-03-17T09:00:00.000Z"
    ])
    // Unbounded series stop at the horizon: 60 days of a daily event is 60 busy times.
    const daily = calendar(event("daily", "DTSTART:20260101T120000Z", "DTEND:20260101T130000Z", "RRULE:FREQ=DAILY"))
    assert.strictEqual(busy(daily).length, 60)
  })

  it("fails on text that is not iCalendar, and on more busy times than allowed instead of truncating", () => {
    assert.isTrue(Either.isLeft(parseBusy("<html>not a calendar</html>", window)))
    assert.isTrue(Either.isLeft(parseBusy("BEGIN:VCARD\r\nVERSION:4.0\r\nEND:VCARD\r\n", window)))
    const daily = calendar(event("daily", "DTSTART:20260302T120000Z", "DTEND:20260302T130000Z", "RRULE:FREQ=DAILY"))
    const tooMany = parseBusy(daily, { ...window, maxIntervals: 10 })
    assert.isTrue(Either.isLeft(tooMany))
    if (Either.isLeft(tooMany)) assert.match(tooMany.left, /more than 10 busy times/)
  })
})
