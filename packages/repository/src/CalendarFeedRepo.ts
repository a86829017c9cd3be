import { UserId } from "@clinic/domain"
import { withMethodSpans } from "@clinic/foundation"
import { iso } from "@clinic/foundation/Sql"
import { SqlClient, SqlSchema } from "@effect/sql"
import { Context, DateTime, Effect, Layer, Option, Ref, Schema } from "effect"
import { MemoryDb, withoutRows, withRow } from "./MemoryDb.js"

export interface CalendarFeedRepoShape {
  /** Stores the digest of a therapist's new feed token, replacing (revoking) any previous one. */
  readonly replace: (therapistId: UserId, tokenHash: string) => Effect.Effect<{ readonly createdAt: DateTime.Utc }>
  /** True when a token was revoked. */
  readonly revoke: (therapistId: UserId) => Effect.Effect<boolean>
  /** Whose feed a token digest opens, if anyone's. */
  readonly findTherapist: (tokenHash: string) => Effect.Effect<Option.Option<UserId>>
}

const makePg = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const byHash = SqlSchema.findOne({
    Request: Schema.String,
    Result: Schema.Struct({ therapistId: UserId }),
    execute: (hash) => sql`SELECT therapist_id FROM calendar_feed_tokens WHERE token_hash = ${hash}`
  })
  return CalendarFeedRepo.of({
    replace: (therapistId, tokenHash) =>
      Effect.gen(function*() {
        const now = yield* DateTime.now
        yield* sql`
          INSERT INTO calendar_feed_tokens (therapist_id, token_hash, created_at)
          VALUES (${therapistId}, ${tokenHash}, ${iso(now)})
          ON CONFLICT (therapist_id) DO UPDATE SET token_hash = excluded.token_hash, created_at = excluded.created_at`
        return { createdAt: now }
      }).pipe(Effect.orDie, Effect.withSpan("CalendarFeedRepo.replace")),
    revoke: (therapistId) =>
      sql<
        { therapistId: string }
      >`DELETE FROM calendar_feed_tokens WHERE therapist_id = ${therapistId} RETURNING therapist_id`
        .pipe(Effect.map((rows) => rows.length > 0), Effect.orDie, Effect.withSpan("CalendarFeedRepo.revoke")),
    findTherapist: (tokenHash) =>
      byHash(tokenHash).pipe(
        Effect.map(Option.map((row) => row.therapistId)),
        Effect.orDie,
        Effect.withSpan("CalendarFeedRepo.findTherapist")
      )
  })
})

const makeMemory = Effect.gen(function*() {
  const db = yield* MemoryDb
  return CalendarFeedRepo.of({
    replace: (therapistId, tokenHash) =>
      Effect.gen(function*() {
        const createdAt = yield* DateTime.now
        yield* Ref.update(db, (t) => ({
          ...t,
          calendarFeedTokens: withRow(t.calendarFeedTokens, therapistId, { tokenHash, createdAt })
        }))
        return { createdAt }
      }),
    revoke: (therapistId) =>
      Ref.modify(db, (t) =>
        t.calendarFeedTokens.has(therapistId)
          ? [true, { ...t, calendarFeedTokens: withoutRows(t.calendarFeedTokens, [therapistId]) }] as const
          : [false, t] as const),
    findTherapist: (tokenHash) =>
      Effect.map(Ref.get(db), (t) => {
        for (const [therapistId, row] of t.calendarFeedTokens) {
          if (row.tokenHash === tokenHash) return Option.some(UserId.make(therapistId))
        }
        return Option.none()
      })
  })
}).pipe(withMethodSpans("CalendarFeedRepo"))

/** The digests of therapists' private calendar feed tokens. */
export class CalendarFeedRepo extends Context.Tag("@clinic/repository/CalendarFeedRepo")<
  CalendarFeedRepo,
  CalendarFeedRepoShape
>() {
  static readonly layerPg = Layer.effect(CalendarFeedRepo, makePg)
  static readonly layerMemory = Layer.effect(CalendarFeedRepo, makeMemory)
}
