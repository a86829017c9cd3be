import type {
  BookingStatus,
  CreateBooking,
  IdempotencyKeyReused,
  InvalidCursor,
  Pagination,
  UserId
} from "@clinic/domain"
import {
  Booking,
  BookingId,
  BookingInPast,
  BookingOverlap,
  BusyInExternalCalendar,
  DEFAULT_PAGE_LIMIT,
  HoldExpired,
  InvalidTransition,
  makeCursor,
  NotFound,
  toPage
} from "@clinic/domain"
import { EventBus, OutboxStore } from "@clinic/events"
import { withMethodSpans } from "@clinic/foundation"
import { BookingRepo, IdempotencyRepo, PatientRepo } from "@clinic/repository"
import { SqlClient, SqlError } from "@effect/sql"
import { DateTime, Effect, Option, Schema } from "effect"
import { createHash } from "node:crypto"
import { ApiConfig } from "./ApiConfig.js"

const bookingCursor = makeCursor(Schema.Struct({ startsAt: Schema.DateTimeUtc, id: BookingId }))

/** What a first `POST /bookings` answered, kept to answer its retries identically. */
const CreateOutcome = Schema.Union(Booking, NotFound, BookingOverlap, BusyInExternalCalendar)
const encodeOutcome = Schema.encodeSync(CreateOutcome)
const decodeOutcome = Schema.decodeUnknown(CreateOutcome)
const statusOf = (outcome: typeof CreateOutcome.Type) =>
  outcome instanceof Booking ? 201 : outcome._tag === "NotFound" ? 404 : 409

/** The request as the server understood it, so that `2026-03-02T10:00:00Z` and `...00.000Z` agree. */
const requestHash = (input: CreateBooking) =>
  createHash("sha256")
    .update(JSON.stringify([input.patientId, DateTime.formatIso(input.startsAt), DateTime.formatIso(input.endsAt)]))
    .digest("hex")

const facts = (booking: Booking) => ({
  bookingId: booking.id,
  therapistId: booking.therapistId,
  patientId: booking.patientId,
  startsAt: booking.startsAt,
  endsAt: booking.endsAt
})

const logChange = (message: string, booking: Booking) =>
  Effect.logInfo(message).pipe(
    Effect.annotateLogs({ bookingId: booking.id, therapistId: booking.therapistId, status: booking.status })
  )

export interface BookingListParams {
  readonly status?: BookingStatus | undefined
  readonly from?: DateTime.Utc | undefined
  readonly to?: DateTime.Utc | undefined
  readonly limit?: number | undefined
  readonly cursor?: string | undefined
}

/**
 * The booking rules: a booking is for one of the caller's own patients, starts `pending` with a
 * hold, can be confirmed only while the hold lasts and cancelled while active. Overlaps are
 * refused by the repository (the database's exclusion constraint on Postgres).
 */
export class Bookings extends Effect.Service<Bookings>()("@clinic/api/Bookings", {
  effect: Effect.gen(function*() {
    const bookings = yield* BookingRepo
    const patients = yield* PatientRepo
    const idempotency = yield* IdempotencyRepo
    const outbox = yield* OutboxStore
    const sql = yield* SqlClient.SqlClient
    /**
     * One unit of work: the rows a change writes and the events describing it commit together or
     * not at all (memory: the identity). A failed BEGIN/COMMIT is a defect like any SqlError;
     * typed errors roll the transaction back and pass through.
     */
    const transaction = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      effect.pipe(
        Effect.provideService(OutboxStore, outbox),
        sql.withTransaction,
        Effect.catchIf((error): error is SqlError.SqlError => error instanceof SqlError.SqlError, Effect.die)
      )
    const { bookingHold } = yield* ApiConfig

    const refusePast = (input: CreateBooking) =>
      Effect.flatMap(DateTime.now, (now) =>
        DateTime.lessThan(input.startsAt, now)
          ? Effect.fail(new BookingInPast({ message: "startsAt is in the past" }))
          : Effect.void)

    // Untraced: it runs inside `create`, whose span (`Bookings.create`) it would repeat.
    const createOnce = Effect.fnUntraced(function*(therapistId: UserId, input: CreateBooking) {
      yield* patients.findOwned(therapistId, input.patientId)
      const now = yield* DateTime.now
      const booking = yield* bookings.insert({
        therapistId,
        patientId: input.patientId,
        startsAt: input.startsAt,
        endsAt: input.endsAt,
        holdExpiresAt: DateTime.addDuration(now, bookingHold)
      }).pipe(
        Effect.tap((held) =>
          EventBus.publish({ _tag: "booking.created", ...facts(held), holdExpiresAt: held.holdExpiresAt })
        ),
        transaction
      )
      yield* logChange("booking held", booking)
      return booking
    })

    const create = (
      therapistId: UserId,
      input: CreateBooking,
      idempotencyKey?: string | undefined
    ): Effect.Effect<
      Booking,
      BookingInPast | NotFound | BookingOverlap | BusyInExternalCalendar | IdempotencyKeyReused
    > =>
      // Like a schema error, a start in the past is refused before the key is claimed: a retry
      // later is judged afresh.
      Effect.zipRight(
        refusePast(input),
        idempotencyKey === undefined
          ? createOnce(therapistId, input)
          : createIdempotent(therapistId, input, idempotencyKey)
      )

    const createIdempotent = (therapistId: UserId, input: CreateBooking, idempotencyKey: string) =>
      Effect.gen(function*() {
        // The key's claim and its stored response commit with the booking; `createOnce` nests
        // (a savepoint), so a refused booking rolls back alone and its answer is still stored.
        const outcome = yield* idempotency.run(
          { userId: therapistId, key: idempotencyKey, requestHash: requestHash(input) },
          createOnce(therapistId, input).pipe(
            Effect.merge,
            Effect.map((result) => ({ status: statusOf(result), body: encodeOutcome(result) }))
          )
        ).pipe(transaction)
        const result = yield* Effect.orDie(decodeOutcome(outcome.response.body))
        return result instanceof Booking ? result : yield* Effect.fail(result)
      })

    const confirm = Effect.fn("Bookings.confirm")(function*(therapistId: UserId, id: BookingId) {
      yield* bookings.findOwned(therapistId, id)
      const confirmed = yield* bookings.transition(id, { from: ["pending"], to: "confirmed" }).pipe(
        Effect.tap(Option.match({
          onNone: () => Effect.void,
          onSome: (booking) => EventBus.publish({ _tag: "booking.confirmed", ...facts(booking) })
        })),
        transaction
      )
      if (Option.isSome(confirmed)) {
        return yield* Effect.as(logChange("booking confirmed", confirmed.value), confirmed.value)
      }
      const current = yield* bookings.findOwned(therapistId, id)
      if (current.status === "expired" && current.holdExpiresAt !== null) {
        return yield* new HoldExpired({
          message: `The hold on this booking ended at ${
            DateTime.formatIso(current.holdExpiresAt)
          }; it can no longer be confirmed. Book the slot again.`,
          bookingId: id,
          holdExpiredAt: current.holdExpiresAt
        })
      }
      return yield* new InvalidTransition({
        message: `A ${current.status} booking cannot be confirmed`,
        from: current.status,
        to: "confirmed"
      })
    })

    const cancel = Effect.fn("Bookings.cancel")(function*(therapistId: UserId, id: BookingId) {
      yield* bookings.findOwned(therapistId, id)
      const cancelled = yield* bookings.transition(id, { from: ["pending", "confirmed"], to: "cancelled" })
      if (Option.isSome(cancelled)) {
        return yield* Effect.as(logChange("booking cancelled", cancelled.value), cancelled.value)
      }
      const current = yield* bookings.findOwned(therapistId, id)
      return yield* new InvalidTransition({
        message: `A ${current.status} booking cannot be cancelled`,
        from: current.status,
        to: "cancelled"
      })
    })

    const list = (
      therapistId: UserId,
      params: BookingListParams
    ): Effect.Effect<
      { readonly items: ReadonlyArray<Booking>; readonly nextCursor: string | null },
      InvalidCursor,
      Pagination
    > =>
      Effect.gen(function*() {
        const after = yield* bookingCursor.decode(params.cursor)
        const limit = params.limit ?? DEFAULT_PAGE_LIMIT
        const rows = yield* bookings.list(therapistId, {
          status: params.status,
          from: params.from,
          to: params.to,
          limit: limit + 1,
          after
        })
        return yield* toPage(rows, limit, (last) => bookingCursor.encode({ startsAt: last.startsAt, id: last.id }))
      })

    const get = (therapistId: UserId, id: BookingId) => bookings.findOwned(therapistId, id)

    return { create, confirm, cancel, list, get } as const
  }).pipe(withMethodSpans("Bookings")),
  dependencies: [ApiConfig.Default]
}) {}
