/**
 * What the operator views show of task payloads and event bodies: their shape and ids, never the
 * personal data in them. A field whose name says it holds personal data is replaced whatever its
 * value; any other string that looks like an email address or a phone number is replaced too (a
 * payload may carry one under a name this list does not know).
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

const EMAIL = /[^\s@]+@[^\s@]+\.[^\s@]+/
// Seven or more digits, allowing the usual separators and a leading +: "+1 (555) 010-9999".
const PHONE = /^\+?[\d\s().-]{7,}$/

const normalise = (key: string) => key.toLowerCase().replace(/[\s_-]/g, "")

const isPersonalField = (key: string) => {
  const k = normalise(key)
  return PERSONAL_FIELDS.has(k) || k.endsWith("email") || k.endsWith("phone") || k.endsWith("name")
}

const looksPersonal = (value: string) =>
  EMAIL.test(value) || (PHONE.test(value.trim()) && value.replace(/\D/g, "").length >= 7)

/** A copy of `value` with personal fields and values replaced by `[redacted]`; never mutates. */
export const redact = (value: unknown, depth = 0): unknown => {
  if (depth > 32) return REDACTED
  if (typeof value === "string") return looksPersonal(value) ? REDACTED : value
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
