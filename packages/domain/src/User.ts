import { Schema } from "effect"
import { UserId } from "./Ids.js"
import { Timestamp } from "./Timestamp.js"

export const Email = Schema.Trim.pipe(
  Schema.lowercased(),
  Schema.pattern(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, { message: () => "Expected an email address" }),
  Schema.maxLength(320),
  Schema.brand("Email")
)
export type Email = typeof Email.Type

/** An address as a client sends it: compared and stored lower-cased, whatever case it came in. */
export const EmailInput = Schema.compose(Schema.Lowercase, Email)

export const UserRole = Schema.Literal("therapist", "admin")
export type UserRole = typeof UserRole.Type

/** A person who signs in. The password hash is a server-side secret and has no place here. */
export class User extends Schema.Class<User>("User")({
  id: UserId,
  email: Email,
  name: Schema.NonEmptyTrimmedString.pipe(Schema.maxLength(200)),
  role: UserRole,
  createdAt: Timestamp
}) {}
