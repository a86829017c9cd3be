import { Timestamp } from "@clinic/domain"
import { withMethodSpans } from "@clinic/foundation"
import { iso } from "@clinic/foundation/Sql"
import { SqlClient, SqlSchema } from "@effect/sql"
import type { DateTime } from "effect"
import { Context, Effect, Layer, Ref, Schema } from "effect"
import { MemoryDb, type Tables } from "./MemoryDb.js"

/**
 * What is counted: `action` names the limit (`upload`, `login-address`...), `subject` whom it
 * applies to (a user id, a normalised email, a client address, or several of them together).
 */
export interface RateLimitKey {
  readonly action: string
  readonly subject: string
}

/** What the rule made of the attempts in the window, and whether this attempt counts as one. */
export interface Verdict<A> {
  readonly result: A
  readonly counted: boolean
}

export interface RateLimitRepoShape {
  /**
   * One attempt under every key of `keys` at `now`: forgets the attempts at or before
   * `windowStart`, hands the rest of each key (epoch millis, oldest first, in the order of `keys`)
   * to `decide`, and records one at `now` under every key when the verdict counts it. The
   * attempts of one key are serialised, across replicas on Postgres, so `decide` never sees a
   * count another attempt is about to change.
   */
  readonly attempt: <A>(
    keys: ReadonlyArray<RateLimitKey>,
    window: { readonly windowStart: DateTime.Utc; readonly now: DateTime.Utc },
    decide: (inWindow: ReadonlyArray<ReadonlyArray<number>>) => Verdict<A>
  ) => Effect.Effect<A>
  /** Forgets every attempt counted under `keys` (a limit that a success resets). */
  readonly clear: (keys: ReadonlyArray<RateLimitKey>) => Effect.Effect<void>
  /** Forgets the one attempt counted at `at` under each of `keys` (an attempt that turned out not to count). */
  readonly release: (keys: ReadonlyArray<RateLimitKey>, at: DateTime.Utc) => Effect.Effect<void>
}

// The two-integer advisory lock space does not overlap the one-bigint space the migrations use.
const LOCK_NAMESPACE = 72_450_006
// Stale attempts of other subjects removed per attempt: bounded, so that no attempt pays for a
// backlog, yet enough to keep up with subjects that never come back.
const PRUNE_BATCH = 100

const lockName = (key: RateLimitKey) => `${key.subject}:${key.action}`

const makePg = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const attemptsInWindow = SqlSchema.findAll({
    Request: Schema.Struct({ subject: Schema.String, action: Schema.String, windowStart: Schema.String }),
    Result: Schema.Struct({ at: Timestamp }),
    execute: ({ action, subject, windowStart }) =>
      sql`SELECT at FROM rate_limit_events
          WHERE subject = ${subject} AND action = ${action} AND at > ${windowStart}
          ORDER BY at`
  })
  const sameKey = (key: RateLimitKey) => sql`subject = ${key.subject} AND action = ${key.action}`
  return RateLimitRepo.of({
    attempt: (keys, { now, windowStart }, decide) =>
      Effect.gen(function*() {
        const start = iso(windowStart)
        // Serialises the attempts of each key across replicas, so that two of them never both see
        // the ninth attempt and both allow a tenth and eleventh. Locks are taken in one order, so
        // that two attempts sharing keys never wait on each other crosswise.
        for (const name of [...new Set(keys.map(lockName))].sort()) {
          yield* sql`SELECT pg_advisory_xact_lock(${LOCK_NAMESPACE}::int, hashtext(${name}))`
        }
        const seen: Array<ReadonlyArray<number>> = []
        for (const key of keys) {
          yield* sql`DELETE FROM rate_limit_events WHERE ${sameKey(key)} AND at <= ${start}`
          const rows = yield* attemptsInWindow({ ...key, windowStart: start })
          seen.push(rows.map((row) => row.at.epochMillis))
        }
        // Other subjects' stale attempts: rows another attempt is pruning are skipped, not waited on.
        yield* sql`DELETE FROM rate_limit_events WHERE ctid IN (
          SELECT ctid FROM rate_limit_events
          WHERE action IN ${sql.in([...new Set(keys.map((key) => key.action))])} AND at <= ${start}
          LIMIT ${PRUNE_BATCH} FOR UPDATE SKIP LOCKED)`
        const verdict = decide(seen)
        if (verdict.counted && keys.length > 0) {
          yield* sql`INSERT INTO rate_limit_events ${sql.insert(keys.map((key) => ({ ...key, at: iso(now) })))}`
        }
        return verdict.result
      }).pipe(sql.withTransaction, Effect.orDie, Effect.withSpan("RateLimitRepo.attempt")),
    clear: (keys) =>
      Effect.forEach(keys, (key) => sql`DELETE FROM rate_limit_events WHERE ${sameKey(key)}`, { discard: true }).pipe(
        Effect.orDie,
        Effect.withSpan("RateLimitRepo.clear")
      ),
    release: (keys, at) =>
      Effect.forEach(keys, (key) =>
        sql`DELETE FROM rate_limit_events WHERE ctid IN (
          SELECT ctid FROM rate_limit_events WHERE ${sameKey(key)} AND at = ${iso(at)} LIMIT 1)`, {
        discard: true
      }).pipe(Effect.orDie, Effect.withSpan("RateLimitRepo.release"))
  })
})

// One string per key, unambiguous whatever the subject contains.
const memoryKey = (key: RateLimitKey) => JSON.stringify([key.action, key.subject])

const updateEvents = (
  t: Tables,
  f: (events: Map<string, ReadonlyArray<number>>) => void
): Tables => {
  const events = new Map(t.rateLimitEvents)
  f(events)
  return { ...t, rateLimitEvents: events }
}

const makeMemory = Effect.gen(function*() {
  const db = yield* MemoryDb
  return RateLimitRepo.of({
    attempt: (keys, { now, windowStart }, decide) =>
      Ref.modify(db, (t) => {
        const actions = new Set(keys.map((key) => key.action))
        const pruned = updateEvents(t, (events) => {
          for (const [name, times] of events) {
            if (!actions.has((JSON.parse(name) as [string, string])[0])) continue
            const kept = times.filter((at) => at > windowStart.epochMillis)
            if (kept.length === 0) events.delete(name)
            else events.set(name, kept)
          }
        })
        const seen = keys.map((key) => pruned.rateLimitEvents.get(memoryKey(key)) ?? [])
        const verdict = decide(seen)
        if (!verdict.counted) return [verdict.result, pruned] as const
        return [
          verdict.result,
          updateEvents(pruned, (events) => {
            for (const key of keys) events.set(memoryKey(key), [...(events.get(memoryKey(key)) ?? []), now.epochMillis])
          })
        ] as const
      }),
    clear: (keys) =>
      Ref.update(db, (t) =>
        updateEvents(t, (events) => {
          for (const key of keys) events.delete(memoryKey(key))
        })),
    release: (keys, at) =>
      Ref.update(db, (t) =>
        updateEvents(t, (events) => {
          for (const key of keys) {
            const times = events.get(memoryKey(key)) ?? []
            const index = times.indexOf(at.epochMillis)
            if (index >= 0) events.set(memoryKey(key), times.filter((_, i) => i !== index))
          }
        }))
  })
}).pipe(withMethodSpans("RateLimitRepo"))

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
