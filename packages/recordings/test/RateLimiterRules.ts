import { assert, describe, it } from "@effect/vitest"
import type { Layer } from "effect"
import { Duration, Effect, TestClock } from "effect"
import { RateLimiter, rateLimitHeaders } from "../src/RateLimiter.js"
import { RecordingsConfig } from "../src/RecordingsConfig.js"
import { newUserId, startClock } from "./fixtures.js"

/** Builds a limiter for one test, given the settings it should read. */
export type RateLimiterLayer = (config: Layer.Layer<RecordingsConfig>) => Layer.Layer<RateLimiter>

const hourly = RecordingsConfig.layerTest()

export const rateLimiterRules = (name: string, make: RateLimiterLayer) =>
  describe(`RateLimiter (${name})`, () => {
    it.effect("ten uploads per rolling hour: the 11th at 59:59 is refused, at 60:00 it is allowed", () =>
      Effect.gen(function*() {
        yield* startClock
        const limiter = yield* RateLimiter
        const user = newUserId()
        const first = yield* limiter.consume(user, "upload")
        assert.deepStrictEqual(first, {
          action: "upload",
          limit: 10,
          remaining: 9,
          windowSeconds: 3600,
          resetSeconds: 3600
        })
        yield* TestClock.adjust("30 minutes")
        for (let i = 2; i <= 10; i++) {
          const status = yield* limiter.consume(user, "upload")
          assert.strictEqual(status.remaining, 10 - i)
          // The first attempt leaves the window in 30 minutes.
          assert.strictEqual(status.resetSeconds, 1800)
        }
        yield* TestClock.adjust(Duration.sum(Duration.minutes(29), Duration.seconds(59)))
        const refused = yield* Effect.flip(limiter.consume(user, "upload"))
        assert.strictEqual(refused._tag, "RateLimited")
        assert.strictEqual(refused.retryAfter, 1)
        assert.strictEqual(refused.limit, 10)
        assert.strictEqual(refused.action, "upload")

        yield* TestClock.adjust("1 second")
        const allowed = yield* limiter.consume(user, "upload")
        assert.strictEqual(allowed.remaining, 0)
        // Now nine from 00:30 and one from 01:00 are in the window: the next frees at 01:30.
        const again = yield* Effect.flip(limiter.consume(user, "upload"))
        assert.strictEqual(again.retryAfter, 1800)
      }).pipe(Effect.provide(make(hourly))))

    it.effect("refused attempts are not counted: the window frees on schedule however often one retries", () =>
      Effect.gen(function*() {
        yield* startClock
        const limiter = yield* RateLimiter
        const user = newUserId()
        for (let i = 0; i < 10; i++) yield* limiter.consume(user, "upload")
        for (let minute = 1; minute < 60; minute++) {
          yield* TestClock.adjust("1 minute")
          const refused = yield* Effect.flip(limiter.consume(user, "upload"))
          assert.strictEqual(refused.retryAfter, (60 - minute) * 60)
        }
        yield* TestClock.adjust("1 minute")
        for (let i = 0; i < 10; i++) yield* limiter.consume(user, "upload")
        assert.strictEqual((yield* Effect.flip(limiter.consume(user, "upload")))._tag, "RateLimited")
      }).pipe(Effect.provide(make(hourly))))

    it.effect("limits are per user and per action: 20 extract-notes beside 10 uploads", () =>
      Effect.gen(function*() {
        yield* startClock
        const limiter = yield* RateLimiter
        const alice = newUserId()
        const bob = newUserId()
        for (let i = 0; i < 10; i++) yield* limiter.consume(alice, "upload")
        assert.strictEqual((yield* Effect.flip(limiter.consume(alice, "upload")))._tag, "RateLimited")
        assert.strictEqual((yield* limiter.consume(bob, "upload")).remaining, 9)
        for (let i = 1; i <= 20; i++) {
          assert.strictEqual((yield* limiter.consume(alice, "extract-notes")).remaining, 20 - i)
        }
        const refused = yield* Effect.flip(limiter.consume(alice, "extract-notes"))
        assert.deepStrictEqual([refused.action, refused.limit, refused.retryAfter], ["extract-notes", 20, 3600])
      }).pipe(Effect.provide(make(hourly))))

    it.effect("reads its policy from the configuration", () =>
      Effect.gen(function*() {
        yield* startClock
        const limiter = yield* RateLimiter
        const user = newUserId()
        yield* limiter.consume(user, "upload")
        yield* limiter.consume(user, "upload")
        const refused = yield* Effect.flip(limiter.consume(user, "upload"))
        assert.deepStrictEqual([refused.limit, refused.windowSeconds, refused.retryAfter], [2, 60, 60])
        yield* TestClock.adjust("1 minute")
        // Both earlier attempts left the window together.
        assert.strictEqual((yield* limiter.consume(user, "upload")).remaining, 1)
      }).pipe(Effect.provide(make(RecordingsConfig.layerTest({
        uploadLimit: { limit: 2, window: Duration.minutes(1) }
      })))))

    it.effect("20 concurrent attempts: exactly 10 allowed", () =>
      Effect.gen(function*() {
        yield* startClock
        const limiter = yield* RateLimiter
        const user = newUserId()
        const results = yield* Effect.forEach(
          Array.from({ length: 20 }),
          () => Effect.either(limiter.consume(user, "upload")),
          { concurrency: "unbounded" }
        )
        const allowed = results.filter((r) => r._tag === "Right")
        assert.strictEqual(allowed.length, 10)
        assert.deepStrictEqual(
          allowed.map((r) => r._tag === "Right" ? r.right.remaining : -1).sort((a, b) => a - b),
          [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
        )
      }).pipe(Effect.provide(make(hourly))))

    it.effect("headers: RateLimit and RateLimit-Policy always, Retry-After when refused", () =>
      Effect.gen(function*() {
        yield* startClock
        const limiter = yield* RateLimiter
        const user = newUserId()
        const status = yield* limiter.consume(user, "upload")
        assert.deepStrictEqual(rateLimitHeaders(status), {
          "ratelimit-policy": "10;w=3600",
          "ratelimit": "limit=10, remaining=9, reset=3600"
        })
        for (let i = 0; i < 9; i++) yield* limiter.consume(user, "upload")
        yield* TestClock.adjust("10 minutes")
        const refused = yield* Effect.flip(limiter.consume(user, "upload"))
        assert.deepStrictEqual(rateLimitHeaders(refused), {
          "ratelimit-policy": "10;w=3600",
          "ratelimit": "limit=10, remaining=0, reset=3000",
          "retry-after": "3000"
        })
      }).pipe(Effect.provide(make(hourly))))
  })
