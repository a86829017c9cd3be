import { DateTime, Schema } from "effect"
import { BookingId, PatientId, UserId } from "./Ids.js"
import { Timestamp } from "./Timestamp.js"

export const BookingStatus = Schema.Literal("pending", "confirmed", "cancelled", "expired")
export type BookingStatus = typeof BookingStatus.Type

export class Booking extends Schema.Class<Booking>("Booking")({
  id: BookingId,
  therapistId: UserId,
  patientId: PatientId,
  startsAt: Timestamp,
  endsAt: Timestamp,
  status: BookingStatus,
  holdExpiresAt: Schema.NullOr(Timestamp),
  createdAt: Timestamp,
  updatedAt: Timestamp
}) {}

/**
 * A pending booking whose hold has passed is expired, whether or not the scheduler's sweep has
 * written that yet: readers use this so that what they see never depends on the sweep's timing.
 */
export const effectiveStatus = (booking: Booking, now: DateTime.Utc): BookingStatus =>
  booking.status === "pending" && booking.holdExpiresAt !== null &&
    !DateTime.lessThan(now, booking.holdExpiresAt)
    ? "expired"
    : booking.status
