import { AdminAuthentication, Unauthorized } from "@clinic/domain"
import { Effect, Layer, Option, Redacted } from "effect"
import { createHash, timingSafeEqual } from "node:crypto"
import { SchedulerConfig } from "./SchedulerConfig.js"

const digest = (value: string) => createHash("sha256").update(value).digest()

/** Compares bearer tokens in constant time; with no token configured, refuses everyone. */
export const AdminAuthLive = Layer.effect(
  AdminAuthentication,
  Effect.gen(function*() {
    const config = yield* SchedulerConfig
    if (Option.isNone(config.adminToken)) {
      yield* Effect.logWarning("SCHEDULER_ADMIN_TOKEN is not set: the admin API (except /health, /ready) answers 401")
    }
    const expected = Option.map(config.adminToken, (token) => digest(Redacted.value(token)))
    return {
      bearer: (token) =>
        Option.isSome(expected) && timingSafeEqual(digest(Redacted.value(token)), expected.value)
          ? Effect.void
          : Effect.fail(
            new Unauthorized({
              message: Option.isSome(expected)
                ? "A valid admin bearer token is required"
                : "The admin API is disabled: SCHEDULER_ADMIN_TOKEN is not set"
            })
          )
    }
  })
)
