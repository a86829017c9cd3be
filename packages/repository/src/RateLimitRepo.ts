import type { RateLimitedAction, UserId } from "@clinic/domain"
import { Timestamp } from "@clinic/domain"
import { iso } from "@clinic/foundation/Sql"
import { SqlClient, SqlSchema } from "@effect/sql"
import type { DateTime } from "effect"
import { Context, Effect, Layer, Ref, Schema } from "effect"
import { MemoryDb, withRow } from "./MemoryDb.js"

/** What the rule made of the attempts in the window, and whether this attempt counts as one. */
export interface Verdict<A> {
  readonly result: A
  readonly counted: boolean
}

export interface RateLimitRepoShape {
  /**
   * One attempt of `action` by `userId` at `now`: forgets the attempts at or before `windowStart`,
   * hands the rest (epoch millis, oldest first) to `decide`, and records one at `now` when the
   * verdict counts it. The attempts of one (user, action) are serialised, across replicas on
   * Postgres, so `decide` never sees a count another attempt is about to change.
   */
  readonly attempt: <A>(
    key: { readonly userId: UserId; readonly action: RateLimitedAction },
    window: { readonly windowStart: DateTime.Utc; readonly now: DateTime.Utc },
    decide: (inWindow: ReadonlyArray<number>) => Verdict<A>
  ) => Effect.Effect<A>
}

// The two-integer advisory lock space does not overlap the one-bigint space the migrations use.
const LOCK_NAMESPACE = 72_450_006

const makePg = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const attemptsInWindow = SqlSchema.findAll({
    Request: Schema.Struct({ userId: Schema.String, action: Schema.String, windowStart: Schema.String }),
    Result: Schema.Struct({ at: Timestamp }),
    execute: ({ action, userId, windowStart }) =>
      sql`SELECT at FROM rate_limit_events
          WHERE user_id = ${userId} AND action = ${action} AND at > ${windowStart}
          ORDER BY at`
  })
  return RateLimitRepo.of({
    attempt: ({ action, userId }, { now, windowStart }, decide) =>
      Effect.gen(function*() {
        const start = iso(windowStart)
        // Serialises the attempts of one (user, action) across replicas, so that two of them
        // never both see the ninth attempt and both allow a tenth and eleventh.
        yield* sql`SELECT pg_advisory_xact_lock(${LOCK_NAMESPACE}::int, hashtext(${`${userId}:${action}`}))`
        yield* sql`DELETE FROM rate_limit_events WHERE user_id = ${userId} AND action = ${action} AND at <= ${start}`
        const rows = yield* attemptsInWindow({ userId, action, windowStart: start })
        const verdict = decide(rows.map((row) => row.at.epochMillis))
        if (verdict.counted) {
          yield* sql`INSERT INTO rate_limit_events ${sql.insert({ userId, action, at: iso(now) })}`
        }
        return verdict.result
      }).pipe(sql.withTransaction, Effect.orDie, Effect.withSpan("RateLimitRepo.attempt", { attributes: { action } }))
  })
})

const makeMemory = Effect.gen(function*() {
  const db = yield* MemoryDb
  return RateLimitRepo.of({
    attempt: ({ action, userId }, { now, windowStart }, decide) =>
      Ref.modify(db, (t) => {
        const key = `${userId}:${action}`
        const inWindow = (t.rateLimitEvents.get(key) ?? []).filter((at) => at > windowStart.epochMillis)
        const verdict = decide(inWindow)
        const kept = verdict.counted ? [...inWindow, now.epochMillis] : inWindow
        return [verdict.result, { ...t, rateLimitEvents: withRow(t.rateLimitEvents, key, kept) }] as const
      })
  })
})

/** The attempts the rate limiter counts (`rate_limit_events`); the limits themselves are the caller's. */
export class RateLimitRepo extends Context.Tag("@clinic/repository/RateLimitRepo")<
  RateLimitRepo,
  RateLimitRepoShape
>() {
  static readonly layerPg: Layer.Layer<RateLimitRepo, never, SqlClient.SqlClient> = Layer.effect(
    RateLimitRepo,
    makePg
  )
  static readonly layerMemory: Layer.Layer<RateLimitRepo, never, MemoryDb> = Layer.effect(RateLimitRepo, makeMemory)
}
