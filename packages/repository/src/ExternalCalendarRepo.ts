import type { NotFound, UserId } from "@clinic/domain"
import {
  ExternalCalendar,
  ExternalCalendarExists,
  ExternalCalendarId,
  notFound,
  TooManyExternalCalendars
} from "@clinic/domain"
import { withMethodSpans } from "@clinic/foundation"
import { iso } from "@clinic/foundation/Sql"
import { SqlClient, SqlSchema } from "@effect/sql"
import { Context, DateTime, Effect, Layer, Option, Ref, Schema } from "effect"
import { type BusyInterval, MemoryDb, type Tables, withoutRows, withRow } from "./MemoryDb.js"

export type { BusyInterval } from "./MemoryDb.js"

export interface NewExternalCalendar {
  readonly therapistId: UserId
  readonly url: string
  readonly label: string | null
}

export interface ExternalCalendarRepoShape {
  /**
   * Registers a feed; at most `max` per therapist, each URL once. Call it inside the caller's
   * `sql.withTransaction`: on Postgres the owner's row lock, which keeps the count true, lasts
   * until that transaction ends.
   */
  readonly add: (
    calendar: NewExternalCalendar,
    max: number
  ) => Effect.Effect<ExternalCalendar, ExternalCalendarExists | TooManyExternalCalendars>
  readonly list: (therapistId: UserId) => Effect.Effect<ReadonlyArray<ExternalCalendar>>
  /** Every feed, least recently attempted first: what a sync run works through. */
  readonly listAll: Effect.Effect<ReadonlyArray<ExternalCalendar>>
  /** Removes a feed of the therapist with its busy times. */
  readonly remove: (therapistId: UserId, id: ExternalCalendarId) => Effect.Effect<void, NotFound>
  /**
   * Replaces the feed's busy times with `intervals` and records the success; call it inside the
   * caller's `sql.withTransaction`, so that readers never see the feed half replaced. False when
   * the feed was removed in the meantime (nothing is written).
   */
  readonly replaceBusy: (id: ExternalCalendarId, intervals: ReadonlyArray<BusyInterval>) => Effect.Effect<boolean>
  /** Records a failed attempt; the previous import stays in force. */
  readonly recordFailure: (id: ExternalCalendarId, error: string) => Effect.Effect<void>
  /** The feed's imported busy times, in start order. */
  readonly busy: (id: ExternalCalendarId) => Effect.Effect<ReadonlyArray<BusyInterval>>
}

const exists = (id: ExternalCalendarId) =>
  new ExternalCalendarExists({ message: "This calendar URL is registered already", calendarId: id })
const tooMany = (max: number) =>
  new TooManyExternalCalendars({ message: `A therapist can register at most ${max} external calendars`, max })

const columns = "id, therapist_id, url, label, created_at, last_synced_at, last_attempt_at, last_error"
const Interval = Schema.Struct({ startsAt: Schema.DateTimeUtcFromDate, endsAt: Schema.DateTimeUtcFromDate })
const INSERT_CHUNK = 1000

const makePg = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  // Built per query, not here: constructing the layer must not touch the client.
  const select = () => sql.unsafe(columns)
  const byOwnerAndUrl = SqlSchema.findOne({
    Request: Schema.Struct({ therapistId: Schema.String, url: Schema.String }),
    Result: ExternalCalendar,
    execute: ({ therapistId, url }) =>
      sql`SELECT ${select()} FROM external_calendars WHERE therapist_id = ${therapistId} AND url = ${url}`
  })
  const listWhere = (where: ReturnType<typeof sql.and>, order: string) =>
    SqlSchema.findAll({
      Request: Schema.Void,
      Result: ExternalCalendar,
      execute: () => sql`SELECT ${select()} FROM external_calendars WHERE ${where} ORDER BY ${sql.unsafe(order)}`
    })(undefined)

  return ExternalCalendarRepo.of({
    add: (calendar, max) =>
      Effect.gen(function*() {
        const now = iso(yield* DateTime.now)
        // The owner's row lock serialises adds of one therapist, so the count below stays true.
        yield* sql`SELECT id FROM users WHERE id = ${calendar.therapistId} FOR NO KEY UPDATE`
        const existing = yield* byOwnerAndUrl(calendar)
        if (Option.isSome(existing)) return yield* Effect.fail(exists(existing.value.id))
        const [{ n }] = yield* sql<{ n: number }>`
          SELECT count(*)::int AS n FROM external_calendars WHERE therapist_id = ${calendar.therapistId}`
        if (n >= max) return yield* Effect.fail(tooMany(max))
        const id = ExternalCalendarId.make(crypto.randomUUID())
        yield* sql`INSERT INTO external_calendars ${
          sql.insert({
            id,
            therapistId: calendar.therapistId,
            url: calendar.url,
            label: calendar.label,
            createdAt: now
          })
        }`
        return new ExternalCalendar({
          id,
          ...calendar,
          createdAt: DateTime.unsafeMake(now),
          lastSyncedAt: null,
          lastAttemptAt: null,
          lastError: null
        })
      }).pipe(
        Effect.catchTags({ SqlError: Effect.die, ParseError: Effect.die }),
        Effect.withSpan("ExternalCalendarRepo.add")
      ),
    list: (therapistId) =>
      listWhere(sql.and([sql`therapist_id = ${therapistId}`]), "created_at, id").pipe(
        Effect.orDie,
        Effect.withSpan("ExternalCalendarRepo.list")
      ),
    listAll: Effect.suspend(() => listWhere(sql.and([]), "last_attempt_at NULLS FIRST, id")).pipe(
      Effect.orDie,
      Effect.withSpan("ExternalCalendarRepo.listAll")
    ),
    remove: (therapistId, id) =>
      sql<
        { id: string }
      >`DELETE FROM external_calendars WHERE id = ${id} AND therapist_id = ${therapistId} RETURNING id`
        .pipe(
          Effect.orDie,
          Effect.flatMap((rows) => rows.length > 0 ? Effect.void : Effect.fail(notFound("ExternalCalendar", id))),
          Effect.withSpan("ExternalCalendarRepo.remove")
        ),
    replaceBusy: (id, intervals) =>
      Effect.gen(function*() {
        const now = iso(yield* DateTime.now)
        const owner = yield* sql<{ therapistId: string }>`
          UPDATE external_calendars SET last_synced_at = ${now}, last_attempt_at = ${now}, last_error = NULL
          WHERE id = ${id} RETURNING therapist_id`
        if (owner.length === 0) return false
        yield* sql`DELETE FROM external_busy WHERE calendar_id = ${id}`
        for (let i = 0; i < intervals.length; i += INSERT_CHUNK) {
          yield* sql`INSERT INTO external_busy ${
            sql.insert(
              intervals.slice(i, i + INSERT_CHUNK).map((interval) => ({
                calendarId: id,
                therapistId: owner[0].therapistId,
                startsAt: iso(interval.startsAt),
                endsAt: iso(interval.endsAt)
              }))
            )
          }`
        }
        return true
      }).pipe(Effect.orDie, Effect.withSpan("ExternalCalendarRepo.replaceBusy")),
    recordFailure: (id, error) =>
      Effect.gen(function*() {
        const now = iso(yield* DateTime.now)
        yield* sql`UPDATE external_calendars SET last_attempt_at = ${now}, last_error = ${error} WHERE id = ${id}`
      }).pipe(Effect.orDie, Effect.withSpan("ExternalCalendarRepo.recordFailure")),
    busy: (id) =>
      SqlSchema.findAll({
        Request: Schema.Void,
        Result: Interval,
        execute: () =>
          sql`SELECT starts_at, ends_at FROM external_busy WHERE calendar_id = ${id} ORDER BY starts_at, ends_at`
      })(undefined).pipe(Effect.orDie, Effect.withSpan("ExternalCalendarRepo.busy"))
  })
})

const byStart = (a: BusyInterval, b: BusyInterval) =>
  a.startsAt.epochMillis - b.startsAt.epochMillis || a.endsAt.epochMillis - b.endsAt.epochMillis
const byCreated = (a: ExternalCalendar, b: ExternalCalendar) =>
  a.createdAt.epochMillis - b.createdAt.epochMillis || (a.id < b.id ? -1 : 1)

const makeMemory = Effect.gen(function*() {
  const db = yield* MemoryDb
  const update = (id: ExternalCalendarId, f: (calendar: ExternalCalendar) => ExternalCalendar) =>
    Ref.update(db, (t) => {
      const calendar = t.externalCalendars.get(id)
      return calendar ? { ...t, externalCalendars: withRow(t.externalCalendars, id, f(calendar)) } : t
    })

  return ExternalCalendarRepo.of({
    add: (input, max) =>
      Effect.gen(function*() {
        const now = yield* DateTime.now
        const calendar = new ExternalCalendar({
          id: ExternalCalendarId.make(crypto.randomUUID()),
          ...input,
          createdAt: now,
          lastSyncedAt: null,
          lastAttemptAt: null,
          lastError: null
        })
        const outcome = yield* Ref.modify(db, (
          t
        ): readonly [ExternalCalendar | ExternalCalendarExists | TooManyExternalCalendars, Tables] => {
          const own = [...t.externalCalendars.values()].filter((c) => c.therapistId === input.therapistId)
          const same = own.find((c) => c.url === input.url)
          if (same) return [exists(same.id), t] as const
          if (own.length >= max) return [tooMany(max), t] as const
          return [calendar, { ...t, externalCalendars: withRow(t.externalCalendars, calendar.id, calendar) }] as const
        })
        return outcome instanceof ExternalCalendar ? outcome : yield* Effect.fail(outcome)
      }),
    list: (therapistId) =>
      Effect.map(
        Ref.get(db),
        (t) => [...t.externalCalendars.values()].filter((c) => c.therapistId === therapistId).sort(byCreated)
      ),
    listAll: Effect.map(
      Ref.get(db),
      (t) =>
        [...t.externalCalendars.values()].sort((a, b) =>
          (a.lastAttemptAt?.epochMillis ?? -Infinity) - (b.lastAttemptAt?.epochMillis ?? -Infinity) ||
          (a.id < b.id ? -1 : 1)
        )
    ),
    remove: (therapistId, id) =>
      Effect.flatMap(
        Ref.modify(db, (t) =>
          t.externalCalendars.get(id)?.therapistId === therapistId
            ? [true, {
              ...t,
              externalCalendars: withoutRows(t.externalCalendars, [id]),
              externalBusy: withoutRows(t.externalBusy, [id])
            }] as const
            : [false, t] as const),
        (removed) => removed ? Effect.void : Effect.fail(notFound("ExternalCalendar", id))
      ),
    replaceBusy: (id, intervals) =>
      Effect.gen(function*() {
        const now = yield* DateTime.now
        return yield* Ref.modify(db, (t) => {
          const calendar = t.externalCalendars.get(id)
          if (!calendar) return [false, t] as const
          const next = new ExternalCalendar({ ...calendar, lastSyncedAt: now, lastAttemptAt: now, lastError: null })
          return [true, {
            ...t,
            externalCalendars: withRow(t.externalCalendars, id, next),
            externalBusy: withRow(t.externalBusy, id, [...intervals].sort(byStart))
          }] as const
        })
      }),
    recordFailure: (id, error) =>
      Effect.flatMap(
        DateTime.now,
        (now) => update(id, (calendar) => new ExternalCalendar({ ...calendar, lastAttemptAt: now, lastError: error }))
      ),
    busy: (id) => Effect.map(Ref.get(db), (t) => t.externalBusy.get(id) ?? [])
  })
}).pipe(withMethodSpans("ExternalCalendarRepo"))

/** Therapists' external ICS feeds and the busy times last imported from each. */
export class ExternalCalendarRepo extends Context.Tag("@clinic/repository/ExternalCalendarRepo")<
  ExternalCalendarRepo,
  ExternalCalendarRepoShape
>() {
  static readonly layerPg = Layer.effect(ExternalCalendarRepo, makePg)
  static readonly layerMemory = Layer.effect(ExternalCalendarRepo, makeMemory)
}
