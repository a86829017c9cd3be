import { HttpApiSchema } from "@effect/platform"
import { Schema } from "effect"

export class NotFound extends Schema.TaggedError<NotFound>()(
  "NotFound",
  { resource: Schema.String, id: Schema.String, message: Schema.String },
  HttpApiSchema.annotations({ status: 404 })
) {}

export const notFound = (resource: string, id: string) =>
  new NotFound({ resource, id, message: `${resource} ${id} not found` })

export class Unauthorized extends Schema.TaggedError<Unauthorized>()(
  "Unauthorized",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 401 })
) {}

export class Forbidden extends Schema.TaggedError<Forbidden>()(
  "Forbidden",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 403 })
) {}

export class EmailAlreadyRegistered extends Schema.TaggedError<EmailAlreadyRegistered>()(
  "EmailAlreadyRegistered",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}

export class BookingOverlap extends Schema.TaggedError<BookingOverlap>()(
  "BookingOverlap",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}

/** A state change the entity's current state does not allow (confirming after the hold, ...). */
export class InvalidTransition extends Schema.TaggedError<InvalidTransition>()(
  "InvalidTransition",
  { message: Schema.String, from: Schema.String, to: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}

/** A body larger than the endpoint accepts. */
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()(
  "PayloadTooLarge",
  { message: Schema.String, maxBytes: Schema.Number },
  HttpApiSchema.annotations({ status: 413 })
) {}

/** Content whose type (declared, or read from its first bytes) the endpoint does not take. */
export class UnsupportedMediaType extends Schema.TaggedError<UnsupportedMediaType>()(
  "UnsupportedMediaType",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 415 })
) {}

/** The requested time is busy in one of the therapist's imported external calendars. */
export class BusyInExternalCalendar extends Schema.TaggedError<BusyInExternalCalendar>()(
  "BusyInExternalCalendar",
  { message: Schema.String, calendarId: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}

/** A booking that would start before now. */
export class BookingInPast extends Schema.TaggedError<BookingInPast>()(
  "BookingInPast",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 400 })
) {}
