import type { RateLimitedAction, UserId } from "@clinic/domain"
import { RateLimited, Timestamp } from "@clinic/domain"
import { iso } from "@clinic/foundation/Sql"
import { SqlClient, SqlSchema } from "@effect/sql"
import { Clock, Context, DateTime, Duration, Effect, Layer, Ref, Schema } from "effect"
import type { RateLimitPolicy } from "./RecordingsConfig.js"
import { RecordingsConfig } from "./RecordingsConfig.js"

/** Where a user stands after an allowed attempt: what the `RateLimit*` headers report. */
export interface RateLimitStatus {
  readonly action: RateLimitedAction
  readonly limit: number
  readonly remaining: number
  readonly windowSeconds: number
  /** Seconds until the oldest attempt in the window leaves it, freeing one more. */
  readonly resetSeconds: number
}

export interface RateLimiterShape {
  /**
   * Counts one attempt of `action` by `userId` if fewer than the limit happened in the rolling
   * window ending now (`(now - window, now]`), or fails with `RateLimited` and the seconds until
   * one more is allowed. A refused attempt is not counted, so a client that keeps retrying is
   * not locked out for longer.
   */
  readonly consume: (userId: UserId, action: RateLimitedAction) => Effect.Effect<RateLimitStatus, RateLimited>
}

export class RateLimiter extends Context.Tag("@clinic/recordings/RateLimiter")<RateLimiter, RateLimiterShape>() {}

export type Policies = { readonly [A in RateLimitedAction]: RateLimitPolicy }

type Decision =
  | { readonly _tag: "Allowed"; readonly status: RateLimitStatus }
  | { readonly _tag: "Refused"; readonly error: RateLimited }

const seconds = (millis: number) => Math.max(1, Math.ceil(millis / 1000))

/**
 * The rule both twins apply. `inWindow` are the epoch millis of the counted attempts inside the
 * window, oldest first. When refused, one more is allowed once enough of the oldest have left for
 * the count to drop below the limit.
 */
export const decide = (
  action: RateLimitedAction,
  policy: RateLimitPolicy,
  inWindow: ReadonlyArray<number>,
  now: number
): Decision => {
  const windowMillis = Duration.toMillis(policy.window)
  const windowSeconds = seconds(windowMillis)
  if (inWindow.length >= policy.limit) {
    const freesASlot = inWindow[inWindow.length - policy.limit]
    const retryAfter = seconds(freesASlot + windowMillis - now)
    return {
      _tag: "Refused",
      error: new RateLimited({
        message: `Too many ${action} requests: at most ${policy.limit} per ${windowSeconds} seconds. ` +
          `Retry in ${retryAfter} seconds.`,
        action,
        limit: policy.limit,
        windowSeconds,
        retryAfter
      })
    }
  }
  const oldest = inWindow.length > 0 ? inWindow[0] : now
  return {
    _tag: "Allowed",
    status: {
      action,
      limit: policy.limit,
      remaining: policy.limit - inWindow.length - 1,
      windowSeconds,
      resetSeconds: seconds(oldest + windowMillis - now)
    }
  }
}

const toEffect = (decision: Decision): Effect.Effect<RateLimitStatus, RateLimited> =>
  decision._tag === "Allowed" ? Effect.succeed(decision.status) : Effect.fail(decision.error)

const policiesFromConfig = Effect.map(RecordingsConfig, (config): Policies => ({
  "upload": config.uploadLimit,
  "extract-notes": config.extractNotesLimit
}))

/**
 * The response headers for a decision (IETF `RateLimit` header fields, draft 7 syntax), plus
 * `Retry-After` when refused.
 */
export const rateLimitHeaders = (result: RateLimitStatus | RateLimited): Record<string, string> =>
  result instanceof RateLimited
    ? {
      "ratelimit-policy": `${result.limit};w=${result.windowSeconds}`,
      "ratelimit": `limit=${result.limit}, remaining=0, reset=${result.retryAfter}`,
      "retry-after": String(result.retryAfter)
    }
    : {
      "ratelimit-policy": `${result.limit};w=${result.windowSeconds}`,
      "ratelimit": `limit=${result.limit}, remaining=${result.remaining}, reset=${result.resetSeconds}`
    }

export const makeMemory = (policies: Policies) =>
  Effect.gen(function*() {
    const attempts = yield* Ref.make<ReadonlyMap<string, ReadonlyArray<number>>>(new Map())
    return RateLimiter.of({
      consume: (userId, action) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const policy = policies[action]
          const windowStart = now - Duration.toMillis(policy.window)
          const key = `${userId}:${action}`
          const decision = yield* Ref.modify(attempts, (map) => {
            const inWindow = (map.get(key) ?? []).filter((at) => at > windowStart)
            const decision = decide(action, policy, inWindow, now)
            const kept = decision._tag === "Allowed" ? [...inWindow, now] : inWindow
            return [decision, new Map(map).set(key, kept)] as const
          })
          return yield* toEffect(decision)
        }).pipe(Effect.withSpan("RateLimiter.consume", { attributes: { action } }))
    })
  })

// The two-integer advisory lock space does not overlap the one-bigint space the migrations use.
const LOCK_NAMESPACE = 72_450_006

export const makePg = (policies: Policies) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const attemptsInWindow = SqlSchema.findAll({
      Request: Schema.Struct({ userId: Schema.String, action: Schema.String, windowStart: Schema.String }),
      Result: Schema.Struct({ at: Timestamp }),
      execute: ({ action, userId, windowStart }) =>
        sql`SELECT at FROM rate_limit_events
            WHERE user_id = ${userId} AND action = ${action} AND at > ${windowStart}
            ORDER BY at`
    })

    return RateLimiter.of({
      consume: (userId, action) =>
        Effect.gen(function*() {
          const now = yield* DateTime.now
          const policy = policies[action]
          const windowStart = iso(DateTime.subtractDuration(now, policy.window))
          // Serialises the attempts of one (user, action) across replicas, so that two of them
          // never both see the ninth attempt and both allow a tenth and eleventh.
          yield* sql`SELECT pg_advisory_xact_lock(${LOCK_NAMESPACE}::int, hashtext(${`${userId}:${action}`}))`
          yield* sql`DELETE FROM rate_limit_events
                     WHERE user_id = ${userId} AND action = ${action} AND at <= ${windowStart}`
          const rows = yield* attemptsInWindow({ userId, action, windowStart })
          const decision = decide(action, policy, rows.map((row) => row.at.epochMillis), now.epochMillis)
          if (decision._tag === "Allowed") {
            yield* sql`INSERT INTO rate_limit_events ${sql.insert({ userId, action, at: iso(now) })}`
          }
          return decision
        }).pipe(
          sql.withTransaction,
          Effect.orDie,
          Effect.flatMap(toEffect),
          Effect.withSpan("RateLimiter.consume", { attributes: { action } })
        )
    })
  })

export const layerMemory: Layer.Layer<RateLimiter, never, RecordingsConfig> = Layer.effect(
  RateLimiter,
  Effect.flatMap(policiesFromConfig, makeMemory)
)

export const layerPg: Layer.Layer<RateLimiter, never, RecordingsConfig | SqlClient.SqlClient> = Layer.effect(
  RateLimiter,
  Effect.flatMap(policiesFromConfig, makePg)
)
