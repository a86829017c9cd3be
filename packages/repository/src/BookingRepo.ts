import type { NotFound } from "@clinic/domain"
import {
  Booking,
  BookingId,
  BookingOverlap,
  BookingStatus,
  BusyInExternalCalendar,
  effectiveStatus,
  notFound,
  PatientId,
  UserId
} from "@clinic/domain"
import { withMethodSpans } from "@clinic/foundation"
import { iso, PgErrorCode, pgErrorCode } from "@clinic/foundation/Sql"
import { SqlClient, SqlSchema, type Statement } from "@effect/sql"
import { Context, DateTime, Effect, Layer, Option, Ref, Schema } from "effect"
import { MemoryDb, type Tables, withRow } from "./MemoryDb.js"

export interface NewBooking {
  readonly therapistId: UserId
  readonly patientId: PatientId
  readonly startsAt: DateTime.Utc
  readonly endsAt: DateTime.Utc
  readonly holdExpiresAt: DateTime.Utc
}

/** Keyset position: the last booking of the previous page, in (startsAt, id) order. */
export interface BookingCursor {
  readonly startsAt: DateTime.Utc
  readonly id: BookingId
}

export interface BookingQuery {
  /** Matched against the effective status: a lapsed hold is `expired`, never `pending`. */
  readonly status?: BookingStatus | undefined
  /** Bookings that start at or after `from` and before `to`. */
  readonly from?: DateTime.Utc | undefined
  readonly to?: DateTime.Utc | undefined
  readonly limit: number
  readonly after?: BookingCursor | undefined
}

/**
 * Every read reports the effective status at the Clock's now: a pending booking whose hold has
 * passed reads `expired` before the scheduler writes it so.
 */
export interface BookingRepoShape {
  /**
   * Creates a pending booking. Fails with `BookingOverlap` when an active booking (pending within
   * its hold, or confirmed) of the same therapist overlaps; lapsed holds in the way are expired.
   * Fails with `BusyInExternalCalendar` when the time overlaps a busy time imported from one of the
   * therapist's external calendars (checked first). Its statements belong together: call it
   * inside the caller's `sql.withTransaction` (the service owns the unit of work).
   */
  readonly insert: (booking: NewBooking) => Effect.Effect<Booking, BookingOverlap | BusyInExternalCalendar>
  readonly findById: (id: BookingId) => Effect.Effect<Booking, NotFound>
  readonly findOwned: (therapistId: UserId, id: BookingId) => Effect.Effect<Booking, NotFound>
  /**
   * Moves a booking to `to` if its effective status is one of `from`; `None` when it was not (the
   * caller reads the booking again to say why).
   */
  readonly transition: (
    id: BookingId,
    change: { readonly from: ReadonlyArray<BookingStatus>; readonly to: BookingStatus }
  ) => Effect.Effect<Option.Option<Booking>>
  /** Pending bookings whose hold passed before `now`, oldest hold first; changes nothing. */
  readonly listLapsedHolds: (now: DateTime.Utc, limit: number) => Effect.Effect<ReadonlyArray<Booking>>
  /** Writes `expired` on up to `limit` lapsed holds; returns them as expired, by id. */
  readonly expireLapsedHolds: (now: DateTime.Utc, limit: number) => Effect.Effect<ReadonlyArray<Booking>>
  readonly list: (therapistId: UserId, query: BookingQuery) => Effect.Effect<ReadonlyArray<Booking>>
}

const overlap = new BookingOverlap({ message: "The therapist already has an active booking overlapping that time" })
const busyElsewhere = (calendarId: string) =>
  new BusyInExternalCalendar({
    message: "The therapist is busy at that time in an external calendar",
    calendarId
  })

const makePg = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient

  const columns = (now: string) =>
    sql`id, therapist_id, patient_id, starts_at, ends_at, hold_expires_at, created_at, updated_at,
        CASE WHEN status = 'pending' AND hold_expires_at <= ${now} THEN 'expired' ELSE status END AS status`
  const statusIs = (status: BookingStatus, now: string) =>
    status === "pending"
      ? sql`(status = 'pending' AND hold_expires_at > ${now})`
      : status === "expired"
      ? sql`(status = 'expired' OR (status = 'pending' AND hold_expires_at <= ${now}))`
      : sql`status = ${status}`

  const insertRow = SqlSchema.single({
    Request: Schema.Struct({
      id: BookingId,
      therapistId: UserId,
      patientId: PatientId,
      startsAt: Schema.String,
      endsAt: Schema.String,
      status: BookingStatus,
      holdExpiresAt: Schema.String,
      createdAt: Schema.String,
      updatedAt: Schema.String
    }),
    Result: Booking,
    execute: (row) => sql`INSERT INTO bookings ${sql.insert(row)} RETURNING *`
  })
  const findWhere = (where: Statement.Fragment, now: string) =>
    SqlSchema.findOne({
      Request: Schema.Void,
      Result: Booking,
      execute: () => sql`SELECT ${columns(now)} FROM bookings WHERE ${where}`
    })(undefined)

  const findOr404 = (where: Statement.Fragment, id: string) =>
    Effect.gen(function*() {
      const now = iso(yield* DateTime.now)
      const found = yield* findWhere(where, now)
      return yield* Option.match(found, {
        onNone: () => Effect.fail(notFound("Booking", id)),
        onSome: Effect.succeed
      })
    }).pipe(Effect.catchTags({ SqlError: Effect.die, ParseError: Effect.die }))

  return BookingRepo.of({
    insert: (booking) =>
      Effect.gen(function*() {
        const now = iso(yield* DateTime.now)
        const startsAt = iso(booking.startsAt)
        const endsAt = iso(booking.endsAt)
        yield* sql`
          UPDATE bookings SET status = 'expired', updated_at = ${now}
          WHERE therapist_id = ${booking.therapistId} AND status = 'pending' AND hold_expires_at <= ${now}
            AND tstzrange(starts_at, ends_at) && tstzrange(${startsAt}::timestamptz, ${endsAt}::timestamptz)`
        const busy = yield* sql<{ calendarId: string }>`
          SELECT calendar_id FROM external_busy
          WHERE therapist_id = ${booking.therapistId}
            AND tstzrange(starts_at, ends_at) && tstzrange(${startsAt}::timestamptz, ${endsAt}::timestamptz)
          LIMIT 1`
        if (busy.length > 0) return yield* Effect.fail(busyElsewhere(busy[0].calendarId))
        return yield* insertRow({
          id: BookingId.make(crypto.randomUUID()),
          therapistId: booking.therapistId,
          patientId: booking.patientId,
          startsAt,
          endsAt,
          status: "pending",
          holdExpiresAt: iso(booking.holdExpiresAt),
          createdAt: now,
          updatedAt: now
        })
      }).pipe(
        // Concurrent insertions of overlapping ranges can deadlock while each checks the exclusion
        // constraint against the other's uncommitted row (PostgreSQL's documentation of exclusion
        // constraints says so); Postgres aborts one of them and the other goes on, so the aborted
        // one lost to an overlapping booking, as if it had seen the violation.
        Effect.catchTag("SqlError", (error) => {
          const code = pgErrorCode(error)
          return code === PgErrorCode.exclusionViolation || code === PgErrorCode.deadlockDetected
            ? Effect.fail(overlap)
            : Effect.die(error)
        }),
        Effect.catchTags({ ParseError: Effect.die, NoSuchElementException: Effect.die }),
        Effect.withSpan("BookingRepo.insert")
      ),
    findById: (id) => findOr404(sql.and([sql`id = ${id}`]), id).pipe(Effect.withSpan("BookingRepo.findById")),
    findOwned: (therapistId, id) =>
      findOr404(sql.and([sql`id = ${id}`, sql`therapist_id = ${therapistId}`]), id).pipe(
        Effect.withSpan("BookingRepo.findOwned")
      ),
    transition: (id, { from, to }) =>
      Effect.gen(function*() {
        const now = iso(yield* DateTime.now)
        return yield* SqlSchema.findOne({
          Request: Schema.Void,
          Result: Booking,
          execute: () =>
            sql`UPDATE bookings SET status = ${to}, updated_at = ${now}
                WHERE id = ${id} AND ${sql.or(from.map((status) => statusIs(status, now)))}
                RETURNING *`
        })(undefined)
      }).pipe(Effect.orDie, Effect.withSpan("BookingRepo.transition", { attributes: { to } })),
    listLapsedHolds: (now, limit) =>
      SqlSchema.findAll({
        Request: Schema.Void,
        Result: Booking,
        execute: () =>
          sql`SELECT ${columns(iso(now))} FROM bookings
              WHERE status = 'pending' AND hold_expires_at <= ${iso(now)}
              ORDER BY hold_expires_at, id LIMIT ${limit}`
      })(undefined).pipe(Effect.orDie, Effect.withSpan("BookingRepo.listLapsedHolds")),
    expireLapsedHolds: (now, limit) =>
      SqlSchema.findAll({
        Request: Schema.Void,
        Result: Booking,
        execute: () =>
          sql`UPDATE bookings SET status = 'expired', updated_at = ${iso(now)}
              WHERE id IN (
                SELECT id FROM bookings WHERE status = 'pending' AND hold_expires_at <= ${iso(now)}
                ORDER BY hold_expires_at, id LIMIT ${limit} FOR UPDATE SKIP LOCKED
              )
              RETURNING *`
      })(undefined).pipe(
        Effect.map((rows) => [...rows].sort((a, b) => compareIds(a.id, b.id))),
        Effect.orDie,
        Effect.withSpan("BookingRepo.expireLapsedHolds")
      ),
    list: (therapistId, query) =>
      Effect.gen(function*() {
        const now = iso(yield* DateTime.now)
        return yield* SqlSchema.findAll({
          Request: Schema.Void,
          Result: Booking,
          execute: () =>
            sql`SELECT ${columns(now)} FROM bookings WHERE ${
              sql.and([
                sql`therapist_id = ${therapistId}`,
                ...(query.status ? [statusIs(query.status, now)] : []),
                ...(query.from ? [sql`starts_at >= ${iso(query.from)}`] : []),
                ...(query.to ? [sql`starts_at < ${iso(query.to)}`] : []),
                ...(query.after
                  ? [sql`(starts_at, id) > (${iso(query.after.startsAt)}::timestamptz, ${query.after.id}::uuid)`]
                  : [])
              ])
            } ORDER BY starts_at, id LIMIT ${query.limit}`
        })(undefined)
      }).pipe(Effect.orDie, Effect.withSpan("BookingRepo.list"))
  })
})

const compareIds = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)
const lapsed = (booking: Booking, now: DateTime.Utc) =>
  booking.status === "pending" && booking.holdExpiresAt !== null && !DateTime.lessThan(now, booking.holdExpiresAt)

const makeMemory = Effect.gen(function*() {
  const db = yield* MemoryDb
  const effective = (booking: Booking, now: DateTime.Utc) =>
    new Booking({ ...booking, status: effectiveStatus(booking, now) })
  const find = (predicate: (booking: Booking) => boolean, id: string) =>
    Effect.gen(function*() {
      const now = yield* DateTime.now
      const booking = (yield* Ref.get(db)).bookings.get(id)
      return booking && predicate(booking)
        ? effective(booking, now)
        : yield* Effect.fail(notFound("Booking", id))
    })

  return BookingRepo.of({
    insert: (input) =>
      Effect.gen(function*() {
        const now = yield* DateTime.now
        const booking = new Booking({
          id: BookingId.make(crypto.randomUUID()),
          ...input,
          status: "pending",
          createdAt: now,
          updatedAt: now
        })
        const overlaps = (other: Booking) =>
          other.therapistId === input.therapistId &&
          DateTime.lessThan(other.startsAt, input.endsAt) && DateTime.lessThan(input.startsAt, other.endsAt)
        const inserted = yield* Ref.modify(
          db,
          (t): readonly [true | BookingOverlap | BusyInExternalCalendar, Tables] => {
            for (const [calendarId, intervals] of t.externalBusy) {
              if (t.externalCalendars.get(calendarId)?.therapistId !== input.therapistId) continue
              const hit = intervals.some((busy) =>
                DateTime.lessThan(busy.startsAt, input.endsAt) && DateTime.lessThan(input.startsAt, busy.endsAt)
              )
              if (hit) return [busyElsewhere(calendarId), t] as const
            }
            const bookings = new Map(t.bookings)
            for (const other of t.bookings.values()) {
              if (!overlaps(other)) continue
              if (lapsed(other, now)) {
                bookings.set(other.id, new Booking({ ...other, status: "expired", updatedAt: now }))
              } else if (other.status === "pending" || other.status === "confirmed") {
                return [overlap, t] as const
              }
            }
            bookings.set(booking.id, booking)
            return [true, { ...t, bookings }] as const
          }
        )
        return inserted === true ? booking : yield* Effect.fail(inserted)
      }),
    findById: (id) => find(() => true, id),
    findOwned: (therapistId, id) => find((b) => b.therapistId === therapistId, id),
    transition: (id, { from, to }) =>
      Effect.gen(function*() {
        const now = yield* DateTime.now
        return yield* Ref.modify(db, (t) => {
          const booking = t.bookings.get(id)
          if (!booking || !from.includes(effectiveStatus(booking, now))) return [Option.none(), t] as const
          const next = new Booking({ ...booking, status: to, updatedAt: now })
          return [Option.some(next), { ...t, bookings: withRow(t.bookings, id, next) }] as const
        })
      }),
    listLapsedHolds: (now, limit) =>
      Effect.map(Ref.get(db), (t) =>
        [...t.bookings.values()]
          .filter((b) => lapsed(b, now))
          .sort((a, b) =>
            DateTime.toEpochMillis(a.holdExpiresAt!) - DateTime.toEpochMillis(b.holdExpiresAt!) ||
            compareIds(a.id, b.id)
          )
          .slice(0, limit)
          .map((b) => effective(b, now))),
    expireLapsedHolds: (now, limit) =>
      Ref.modify(db, (t) => {
        const doomed = [...t.bookings.values()]
          .filter((b) => lapsed(b, now))
          .sort((a, b) =>
            DateTime.toEpochMillis(a.holdExpiresAt!) - DateTime.toEpochMillis(b.holdExpiresAt!) ||
            compareIds(a.id, b.id)
          )
          .slice(0, limit)
        const bookings = new Map(t.bookings)
        const expired = doomed.map((b) => new Booking({ ...b, status: "expired", updatedAt: now }))
        for (const b of expired) bookings.set(b.id, b)
        return [expired.sort((a, b) => compareIds(a.id, b.id)), { ...t, bookings }] as const
      }),
    list: (therapistId, query) =>
      Effect.gen(function*() {
        const now = yield* DateTime.now
        const t = yield* Ref.get(db)
        const after = query.after
        return [...t.bookings.values()]
          .map((b) => effective(b, now))
          .filter((b) =>
            b.therapistId === therapistId &&
            (!query.status || b.status === query.status) &&
            (!query.from || !DateTime.lessThan(b.startsAt, query.from)) &&
            (!query.to || DateTime.lessThan(b.startsAt, query.to)) &&
            (!after ||
              DateTime.greaterThan(b.startsAt, after.startsAt) ||
              (DateTime.Equivalence(b.startsAt, after.startsAt) && b.id > after.id))
          )
          .sort((a, b) =>
            DateTime.toEpochMillis(a.startsAt) - DateTime.toEpochMillis(b.startsAt) || compareIds(a.id, b.id)
          )
          .slice(0, query.limit)
      })
  })
}).pipe(withMethodSpans("BookingRepo"))

export class BookingRepo extends Context.Tag("@clinic/repository/BookingRepo")<BookingRepo, BookingRepoShape>() {
  static readonly layerPg = Layer.effect(BookingRepo, makePg)
  static readonly layerMemory = Layer.effect(BookingRepo, makeMemory)
}
