import { Schema } from "effect"
import { AuthSessionId, BookingId, PatientId, UserId } from "./Ids.js"
import { Timestamp } from "./Timestamp.js"

/**
 * Domain events: facts about a change, written to the outbox in the transaction of the change.
 * Each carries what its subscribers need without reading the row again (it may have moved on).
 */
export const EventId = Schema.UUID.pipe(Schema.brand("EventId"))
export type EventId = typeof EventId.Type

const bookingFacts = {
  bookingId: BookingId,
  therapistId: UserId,
  patientId: PatientId,
  startsAt: Timestamp,
  endsAt: Timestamp
}

export const BookingCreated = Schema.TaggedStruct("booking.created", {
  ...bookingFacts,
  holdExpiresAt: Schema.NullOr(Timestamp)
})
export type BookingCreated = typeof BookingCreated.Type

export const BookingConfirmed = Schema.TaggedStruct("booking.confirmed", bookingFacts)
export type BookingConfirmed = typeof BookingConfirmed.Type

export const BookingExpired = Schema.TaggedStruct("booking.expired", bookingFacts)
export type BookingExpired = typeof BookingExpired.Type

export const AuthSessionExpired = Schema.TaggedStruct("auth_session.expired", {
  authSessionId: AuthSessionId,
  userId: UserId
})
export type AuthSessionExpired = typeof AuthSessionExpired.Type

// Recordings arrive with the next issue; their id is a plain UUID until it brands one.
const recordingFacts = { recordingId: Schema.UUID, therapistId: UserId }

export const RecordingUploaded = Schema.TaggedStruct("recording.uploaded", {
  ...recordingFacts,
  sizeBytes: Schema.NonNegativeInt
})
export type RecordingUploaded = typeof RecordingUploaded.Type

export const RecordingCompleted = Schema.TaggedStruct("recording.completed", recordingFacts)
export type RecordingCompleted = typeof RecordingCompleted.Type

export const RecordingFailed = Schema.TaggedStruct("recording.failed", { ...recordingFacts, reason: Schema.String })
export type RecordingFailed = typeof RecordingFailed.Type

export const DomainEvent = Schema.Union(
  BookingCreated,
  BookingConfirmed,
  BookingExpired,
  AuthSessionExpired,
  RecordingUploaded,
  RecordingCompleted,
  RecordingFailed
)
export type DomainEvent = typeof DomainEvent.Type

/** The event names, e.g. "booking.confirmed" (the `_tag` of each event). */
export type EventType = DomainEvent["_tag"]

export const eventTypes: ReadonlyArray<EventType> = [
  "booking.created",
  "booking.confirmed",
  "booking.expired",
  "auth_session.expired",
  "recording.uploaded",
  "recording.completed",
  "recording.failed"
]
