import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { DateTime, Duration, Schema } from "effect"
import { Authentication } from "./Authentication.js"
import { Booking, BookingStatus } from "./Booking.js"
import { BookingInPast, BookingOverlap, BusyInExternalCalendar, InvalidTransition, NotFound } from "./Errors.js"
import { InvalidCursor } from "./HttpErrors.js"
import { BookingId, PatientId } from "./Ids.js"
import { docs } from "./OpenApiDocs.js"
import { Page, PageParams } from "./Pagination.js"
import { Timestamp } from "./Timestamp.js"

/** No appointment is longer than this; a longer range is a typo, not a session. */
export const MAX_BOOKING_DURATION = Duration.hours(12)

export const CreateBooking = Schema.Struct({
  patientId: PatientId,
  startsAt: Timestamp,
  endsAt: Timestamp
}).pipe(
  Schema.filter(({ endsAt, startsAt }) => {
    if (!DateTime.lessThan(startsAt, endsAt)) return { path: ["endsAt"], message: "endsAt must be after startsAt" }
    if (DateTime.distance(startsAt, endsAt) > Duration.toMillis(MAX_BOOKING_DURATION)) {
      return { path: ["endsAt"], message: `a booking lasts at most ${Duration.format(MAX_BOOKING_DURATION)}` }
    }
    return undefined
  })
).annotations({ identifier: "CreateBooking" })
export type CreateBooking = typeof CreateBooking.Type

/** Client-chosen, unique per request intent; scoped to the signed-in user. */
export const IdempotencyKey = Schema.String.pipe(
  Schema.minLength(1),
  Schema.maxLength(200),
  Schema.pattern(/^[\x21-\x7e]+$/, { message: () => "Idempotency-Key must be printable ASCII without spaces" })
)

/** The hold of a pending booking passed before it was confirmed; the slot is free for others. */
export class HoldExpired extends Schema.TaggedError<HoldExpired>()(
  "HoldExpired",
  { message: Schema.String, bookingId: BookingId, holdExpiredAt: Timestamp },
  HttpApiSchema.annotations({ status: 409 })
) {}

/** An `Idempotency-Key` already used by this user for a request with another body. */
export class IdempotencyKeyReused extends Schema.TaggedError<IdempotencyKeyReused>()(
  "IdempotencyKeyReused",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 422 })
) {}

export const BookingPage = Page(Booking, "BookingPage")

const byId = Schema.Struct({ id: BookingId })

/**
 * A therapist's bookings. A new booking is `pending` with a hold (15 minutes by default); confirming
 * after the hold is a 409 `HoldExpired`. Two active bookings of one therapist never overlap (409
 * `BookingOverlap`). Another therapist's booking, or patient, is a 404.
 */
export class BookingsApi extends HttpApiGroup.make("bookings")
  .add(
    HttpApiEndpoint.post("create", "/bookings").annotate(OpenApi.Summary, "Book an appointment")
      .setHeaders(Schema.Struct({ "idempotency-key": Schema.optional(IdempotencyKey) }))
      .setPayload(CreateBooking)
      .addSuccess(Booking, { status: 201 })
      .addError(BookingInPast)
      .addError(NotFound)
      .addError(BookingOverlap)
      .addError(BusyInExternalCalendar)
      .addError(IdempotencyKeyReused)
      .annotate(
        OpenApi.Description,
        "Creates a pending booking held for the configured time. With an Idempotency-Key header, a retry " +
          "returns the first response; the same key with another body is a 422."
      )
  )
  .add(
    HttpApiEndpoint.get("list", "/bookings").annotateContext(
      docs(
        "List bookings",
        "The signed-in therapist's bookings, filtered by `status` and by start time (`from`, `to`), keyset-paginated like every list (`limit`, `cursor`)."
      )
    )
      .setUrlParams(Schema.Struct({
        status: Schema.optional(BookingStatus),
        from: Schema.optional(Schema.DateTimeUtc),
        to: Schema.optional(Schema.DateTimeUtc),
        ...PageParams
      }))
      .addSuccess(BookingPage)
      .addError(InvalidCursor)
  )
  .add(
    HttpApiEndpoint.get("get", "/bookings/:id").annotateContext(
      docs(
        "Get a booking",
        "One of the signed-in therapist's bookings; anyone else's is a 404. A pending booking whose hold has passed reads `expired`."
      )
    ).setPath(byId).addSuccess(Booking).addError(NotFound)
  )
  .add(
    HttpApiEndpoint.post("confirm", "/bookings/:id/confirm").annotateContext(
      docs(
        "Confirm a booking",
        "Confirms a pending booking while its hold lasts; after it, a 409 `HoldExpired` saying when it ended. Any other status is a 409 `InvalidTransition`."
      )
    )
      .setPath(byId)
      .addSuccess(Booking)
      .addError(NotFound)
      .addError(HoldExpired)
      .addError(InvalidTransition)
  )
  .add(
    HttpApiEndpoint.post("cancel", "/bookings/:id/cancel").annotateContext(
      docs(
        "Cancel a booking",
        "Cancels the booking, freeing its slot; a booking whose status does not allow it is a 409 `InvalidTransition`."
      )
    )
      .setPath(byId)
      .addSuccess(Booking)
      .addError(NotFound)
      .addError(InvalidTransition)
  )
  .middleware(Authentication)
  .annotate(OpenApi.Title, "Bookings")
  .annotate(
    OpenApi.Description,
    "Appointments: pending with a hold until confirmed; two active bookings of one therapist never overlap."
  )
{}
