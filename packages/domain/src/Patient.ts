import { Schema } from "effect"
import { PatientId, UserId } from "./Ids.js"
import { Timestamp } from "./Timestamp.js"

export const PatientName = Schema.NonEmptyTrimmedString.pipe(Schema.maxLength(200))

/** A patient belongs to exactly one therapist, who alone may see or change them. */
export class Patient extends Schema.Class<Patient>("Patient")({
  id: PatientId,
  therapistId: UserId,
  name: PatientName,
  email: Schema.NullOr(Schema.String),
  phone: Schema.NullOr(Schema.String),
  notes: Schema.NullOr(Schema.String),
  createdAt: Timestamp,
  updatedAt: Timestamp
}) {}
