import type { RateLimitedAction, UserId } from "@clinic/domain"
import { RateLimited } from "@clinic/domain"
import { RateLimitRepo } from "@clinic/repository/RateLimitRepo"
import { DateTime, Duration, Effect } from "effect"
import type { RateLimitPolicy } from "./RecordingsConfig.js"
import { RecordingsConfig } from "./RecordingsConfig.js"

/** The actions of the recordings feature (logins have their own limits, in the API). */
export type RecordingsAction = Exclude<RateLimitedAction, "login">

/** Where a user stands after an allowed attempt: what the `RateLimit*` headers report. */
export interface RateLimitStatus {
  readonly action: RecordingsAction
  readonly limit: number
  readonly remaining: number
  readonly windowSeconds: number
  /** Seconds until the oldest attempt in the window leaves it, freeing one more. */
  readonly resetSeconds: number
}

export type Policies = { readonly [A in RecordingsAction]: RateLimitPolicy }

type Decision =
  | { readonly _tag: "Allowed"; readonly status: RateLimitStatus }
  | { readonly _tag: "Refused"; readonly error: RateLimited }

const seconds = (millis: number) => Math.max(1, Math.ceil(millis / 1000))

/**
 * The rule. `inWindow` are the epoch millis of the counted attempts inside the
 * window, oldest first. When refused, one more is allowed once enough of the oldest have left for
 * the count to drop below the limit.
 */
export const decide = (
  action: RecordingsAction,
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

/**
 * The rolling-window limits of the recordings feature, over the attempts `RateLimitRepo` keeps
 * (Postgres or memory, whichever repositories the app runs on).
 */
export class RateLimiter extends Effect.Service<RateLimiter>()("@clinic/recordings/RateLimiter", {
  effect: Effect.gen(function*() {
    const policies = yield* policiesFromConfig
    const attempts = yield* RateLimitRepo
    return {
      /**
       * Counts one attempt of `action` by `userId` if fewer than the limit happened in the rolling
       * window ending now (`(now - window, now]`), or fails with `RateLimited` and the seconds until
       * one more is allowed. A refused attempt is not counted, so a client that keeps retrying is
       * not locked out for longer.
       */
      consume: (userId: UserId, action: RecordingsAction): Effect.Effect<RateLimitStatus, RateLimited> =>
        Effect.gen(function*() {
          const now = yield* DateTime.now
          const policy = policies[action]
          const windowStart = DateTime.subtractDuration(now, policy.window)
          const decision = yield* attempts.attempt(
            [{ subject: userId, action }],
            { windowStart, now },
            ([inWindow]) => {
              const decision = decide(action, policy, inWindow, now.epochMillis)
              return { result: decision, counted: decision._tag === "Allowed" }
            }
          )
          return yield* toEffect(decision)
        }).pipe(Effect.withSpan("RateLimiter.consume", { attributes: { action } }))
    } as const
  }),
  dependencies: [RecordingsConfig.layer]
}) {}
