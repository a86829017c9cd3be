import { assert, describe, it } from "@effect/vitest"
import { redact, REDACTED } from "../src/Redaction.js"

describe("Redaction", () => {
  it("replaces personal fields at any depth and keeps ids, types and counts", () => {
    const payload = {
      bookingId: "4f7b0c57-9a8c-4d6e-8c0e-1b2a3c4d5e6f",
      attempt: 2,
      patient: { firstName: "Ada", last_name: "Lovelace", email: "ada@example.org", phone: "+44 20 7946 0000" },
      therapistName: "Dr Who",
      recording: { transcript: "I feel...", notes: ["anxious"], durationSeconds: 3000 },
      to: ["x@example.org"]
    }
    assert.deepStrictEqual(redact(payload), {
      bookingId: "4f7b0c57-9a8c-4d6e-8c0e-1b2a3c4d5e6f",
      attempt: 2,
      patient: { firstName: REDACTED, last_name: REDACTED, email: REDACTED, phone: REDACTED },
      therapistName: REDACTED,
      recording: { transcript: REDACTED, notes: REDACTED, durationSeconds: 3000 },
      to: REDACTED
    })
  })

  it("replaces email addresses and phone numbers under unknown field names, also inside arrays", () => {
    assert.deepStrictEqual(redact({ contact: "someone@clinic.test", alt: ["(555) 010-9999", "room 12"] }), {
      contact: REDACTED,
      alt: [REDACTED, "room 12"]
    })
  })

  it("replaces email addresses and phone numbers inside free text, keeping the rest", () => {
    assert.strictEqual(
      redact("SMTP 550 for <jane@example.org>, call +44 20 7946 0000 or 555 010 9999"),
      `SMTP 550 for <${REDACTED}>, call ${REDACTED} or ${REDACTED}`
    )
  })

  it("leaves ISO timestamps, uuids, short numbers and nulls alone, and does not mutate its input", () => {
    const input = { startsAt: "2026-11-30T10:00:00.000Z", count: "42", name: null, eventId: "e-1" }
    const copy = structuredClone(input)
    assert.deepStrictEqual(redact(input), input)
    assert.deepStrictEqual(input, copy)
  })

  it("redacts scalars and primitives it is given directly only when they look personal", () => {
    assert.strictEqual(redact("ada@example.org"), REDACTED)
    assert.strictEqual(redact(12), 12)
    assert.strictEqual(redact(undefined), undefined)
  })
})
