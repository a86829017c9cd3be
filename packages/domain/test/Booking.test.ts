import { assert, describe, it } from "@effect/vitest"
import { DateTime, Schema } from "effect"
import { Booking, effectiveStatus } from "../src/Booking.js"
import { Timestamp } from "../src/Timestamp.js"

const booking = (status: Booking["status"], holdExpiresAt: string | null) =>
  Schema.decodeUnknownSync(Booking)({
    id: "0b6f3c8e-6a7e-4d38-9a51-0f6d2c1e9a11",
    therapistId: "1b6f3c8e-6a7e-4d38-9a51-0f6d2c1e9a11",
    patientId: "2b6f3c8e-6a7e-4d38-9a51-0f6d2c1e9a11",
    startsAt: "2026-03-03T10:00:00Z",
    endsAt: "2026-03-03T11:00:00Z",
    status,
    holdExpiresAt,
    createdAt: "2026-03-02T09:00:00Z",
    updatedAt: "2026-03-02T09:00:00Z"
  })

describe("effectiveStatus", () => {
  const hold = "2026-03-02T09:15:00.000Z"
  it("a pending booking is pending until its hold passes, then expired", () => {
    assert.strictEqual(
      effectiveStatus(booking("pending", hold), DateTime.unsafeMake("2026-03-02T09:14:59.999Z")),
      "pending"
    )
    assert.strictEqual(effectiveStatus(booking("pending", hold), DateTime.unsafeMake(hold)), "expired")
  })
  it("other statuses are what they say, whatever the hold", () => {
    const later = DateTime.unsafeMake("2026-04-01T00:00:00Z")
    assert.strictEqual(effectiveStatus(booking("confirmed", hold), later), "confirmed")
    assert.strictEqual(effectiveStatus(booking("cancelled", hold), later), "cancelled")
  })
})

describe("Timestamp", () => {
  it("decodes ISO strings and Dates to the same instant and encodes ISO", () => {
    const fromString = Schema.decodeUnknownSync(Timestamp)("2026-03-02T09:00:00+01:00")
    const fromDate = Schema.decodeUnknownSync(Timestamp)(new Date("2026-03-02T08:00:00Z"))
    assert.isTrue(DateTime.Equivalence(fromString, fromDate))
    assert.strictEqual(Schema.encodeSync(Timestamp)(fromString), "2026-03-02T08:00:00.000Z")
  })
  it("refuses what is not a date-time", () => {
    assert.throws(() => Schema.decodeUnknownSync(Timestamp)("next tuesday"))
    assert.throws(() => Schema.decodeUnknownSync(Timestamp)(42))
  })
})
