import type { Email, UserId } from "@clinic/domain"
import { RateLimited } from "@clinic/domain"
import { withMethodSpans } from "@clinic/foundation"
import { LoginAuditRepo, type RateLimitKey, RateLimitRepo } from "@clinic/repository"
import { DateTime, Duration, Effect, Option } from "effect"
import { ApiConfig } from "../ApiConfig.js"
import { throttledNetwork } from "../ClientAddress.js"

/** How long an address stays known for an account after a successful login from it. */
const KNOWN_ADDRESS_FOR = Duration.days(30)

/** An attempt the throttle let through: counted at `at` under `keys` until it turns out a success. */
export interface LoginAttempt {
  readonly at: DateTime.Utc
  readonly pair: RateLimitKey
  readonly others: ReadonlyArray<RateLimitKey>
}

interface Limit {
  readonly key: RateLimitKey
  readonly limit: number
}

const seconds = (millis: number) => Math.max(1, Math.ceil(millis / 1000))

/**
 * The rule over the attempts each limit saw in the window (oldest first): refused when any limit
 * is reached, with the seconds until every such limit has a slot again.
 */
export const decide = (
  limits: ReadonlyArray<Limit>,
  inWindow: ReadonlyArray<ReadonlyArray<number>>,
  now: number,
  windowMillis: number
): RateLimited | undefined => {
  let refused: { readonly limit: number; readonly retryAfter: number } | undefined
  limits.forEach(({ limit }, i) => {
    const times = inWindow[i]
    if (times.length < limit) return
    const retryAfter = seconds(times[times.length - limit] + windowMillis - now)
    if (refused === undefined || retryAfter > refused.retryAfter) refused = { limit, retryAfter }
  })
  if (refused === undefined) return undefined
  return new RateLimited({
    message: `Too many failed logins. Retry in ${refused.retryAfter} seconds.`,
    action: "login",
    limit: refused.limit,
    windowSeconds: seconds(windowMillis),
    retryAfter: refused.retryAfter
  })
}

/**
 * Login throttling over `RateLimitRepo` (the limiter the recordings use: rolling windows counted
 * in Postgres, serialised per key across replicas). Every attempt is counted before the password
 * is checked, so that concurrent guesses cannot all pass while none has failed yet; a success is
 * then taken back from the address and account counts and resets its (account, address) count.
 * Refused attempts are not counted: retrying does not prolong a refusal.
 */
export class LoginThrottle extends Effect.Service<LoginThrottle>()("@clinic/api/LoginThrottle", {
  effect: Effect.gen(function*() {
    const settings = (yield* ApiConfig).loginThrottle
    const attempts = yield* RateLimitRepo
    const audit = yield* LoginAuditRepo
    const windowMillis = Duration.toMillis(settings.window)

    return {
      /**
       * Counts a login attempt on `email` (normalised; accounts that do not exist are throttled
       * alike) from `address`, or fails with `RateLimited` when a limit is reached.
       */
      admit: Effect.fn("LoginThrottle.admit")(
        function*(email: Email, address: string | null, userId: Option.Option<UserId>) {
          const now = yield* DateTime.now
          const network = address === null ? "unknown" : throttledNetwork(address)
          const pair = { action: "login-account-address", subject: JSON.stringify([email, network]) }
          const limits: Array<Limit> = [
            { key: pair, limit: settings.perAccountAddress },
            { key: { action: "login-address", subject: network }, limit: settings.perAddress }
          ]
          const known = Option.isSome(userId) && address !== null &&
            (yield* audit.hasSucceeded({
              userId: userId.value,
              address,
              since: DateTime.subtractDuration(now, KNOWN_ADDRESS_FOR)
            }))
          if (!known) limits.push({ key: { action: "login-account", subject: email }, limit: settings.perAccount })
          const refused = yield* attempts.attempt(
            limits.map((limit) => limit.key),
            { windowStart: DateTime.subtractDuration(now, settings.window), now },
            (inWindow) => {
              const refused = decide(limits, inWindow, now.epochMillis, windowMillis)
              return { result: refused, counted: refused === undefined }
            }
          )
          if (refused !== undefined) return yield* Effect.fail(refused)
          return { at: now, pair, others: limits.slice(1).map((limit) => limit.key) } satisfies LoginAttempt
        }
      ),
      /** The attempt was a success: it resets its (account, address) count and counts nowhere else. */
      succeeded: (attempt: LoginAttempt): Effect.Effect<void> =>
        Effect.zipRight(attempts.clear([attempt.pair]), attempts.release(attempt.others, attempt.at))
    } as const
  }).pipe(withMethodSpans("LoginThrottle"))
}) {}
