/**
 * What the operator views show of task payloads and event bodies: their shape and ids, never the
 * personal data in them. A field whose name says it holds personal data is replaced whatever its
 * value; in any other string, what looks like an email address or a phone number is replaced too
 * (a payload may carry one under a name this list does not know, or inside an error text).
 */
export const REDACTED = "[redacted]"

/** Field names (lower case, without `_`, `-` or spaces) that hold personal or clinical data. */
const PERSONAL_FIELDS = new Set([
  "name",
  "firstname",
  "lastname",
  "fullname",
  "displayname",
  "patientname",
  "therapistname",
  "email",
  "emailaddress",
  "to",
  "cc",
  "bcc",
  "replyto",
  "phone",
  "phonenumber",
  "mobile",
  "telephone",
  "address",
  "dateofbirth",
  "birthdate",
  "dob",
  "transcript",
  "text",
  "notes",
  "note",
  "summary",
  "content",
  "body",
  "comment",
  "description",
  "diagnosis",
  "message",
  "subject"
])

const EMAIL = /[^\s@<>"',;]+@[^\s@<>"',;]+\.[^\s@<>"',;]+/g
// International ("+44 20 7946 0000") or North American ("(555) 010-9999", "555 010 9999") numbers;
// not ISO dates or UUIDs, whose digit groups are joined by "-" in other shapes.
const PHONE = /\+\d[\d\s().-]{5,}\d|\(?\b\d{3}\)?[\s.]\d{3}[\s.-]\d{4}\b/g

const normalise = (key: string) => key.toLowerCase().replace(/[\s_-]/g, "")

const isPersonalField = (key: string) => {
  const k = normalise(key)
  return PERSONAL_FIELDS.has(k) || k.endsWith("email") || k.endsWith("phone") || k.endsWith("name")
}

/** Email addresses and phone numbers inside a string, replaced where they stand. */
const redactText = (value: string) => value.replace(EMAIL, REDACTED).replace(PHONE, REDACTED)

/** A copy of `value` with personal fields and values replaced by `[redacted]`; never mutates. */
export const redact = (value: unknown, depth = 0): unknown => {
  if (depth > 32) return REDACTED
  if (typeof value === "string") return redactText(value)
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1))
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([key, field]) => [
        key,
        isPersonalField(key) && field !== null ? REDACTED : redact(field, depth + 1)
      ])
    )
  }
  return value
}
