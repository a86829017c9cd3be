import { UserId } from "@clinic/domain"
import { assert, describe, it } from "@effect/vitest"
import type { Layer } from "effect"
import { DateTime, Effect } from "effect"
import { RateLimitRepo } from "../src/RateLimitRepo.js"
import { at } from "./fixtures.js"

const newUserId = () => UserId.make(crypto.randomUUID())

/** A limit of `limit` per window: counts the attempt only while below it; answers what it saw. */
const upTo = (limit: number) => (inWindow: ReadonlyArray<number>) => ({
  result: inWindow,
  counted: inWindow.length < limit
})

const windowOf = (minutes: number, now: DateTime.Utc) => ({
  windowStart: DateTime.subtract(now, { minutes }),
  now
})

export const rateLimitRepoContract = (name: string, layer: Layer.Layer<RateLimitRepo>) =>
  describe(`RateLimitRepo (${name})`, () => {
    it.effect("hands the rule the counted attempts inside the window, oldest first", () =>
      Effect.gen(function*() {
        const repo = yield* RateLimitRepo
        const key = { userId: newUserId(), action: "upload" } as const
        yield* repo.attempt(key, windowOf(60, at(0)), upTo(10))
        yield* repo.attempt(key, windowOf(60, at("30 minutes")), upTo(10))
        const seen = yield* repo.attempt(key, windowOf(60, at("45 minutes")), upTo(10))
        assert.deepStrictEqual(seen, [at(0).epochMillis, at("30 minutes").epochMillis])
        // At 60:00 the first attempt is exactly a window old: out of it (the window is (start, now]).
        const later = yield* repo.attempt(key, windowOf(60, at("60 minutes")), upTo(10))
        assert.deepStrictEqual(later, [at("30 minutes").epochMillis, at("45 minutes").epochMillis])
      }).pipe(Effect.provide(layer)))

    it.effect("an attempt the rule does not count is not stored", () =>
      Effect.gen(function*() {
        const repo = yield* RateLimitRepo
        const key = { userId: newUserId(), action: "upload" } as const
        yield* repo.attempt(key, windowOf(60, at(0)), upTo(1))
        for (let minute = 1; minute < 5; minute++) {
          const seen = yield* repo.attempt(key, windowOf(60, at(`${minute} minutes`)), upTo(1))
          assert.strictEqual(seen.length, 1)
        }
      }).pipe(Effect.provide(layer)))

    it.effect("attempts are kept per user and per action", () =>
      Effect.gen(function*() {
        const repo = yield* RateLimitRepo
        const alice = newUserId()
        const bob = newUserId()
        for (let i = 0; i < 3; i++) {
          yield* repo.attempt({ userId: alice, action: "upload" }, windowOf(60, at(i)), upTo(10))
        }
        const bobs = yield* repo.attempt({ userId: bob, action: "upload" }, windowOf(60, at(5)), upTo(10))
        const notes = yield* repo.attempt({ userId: alice, action: "extract-notes" }, windowOf(60, at(5)), upTo(10))
        assert.deepStrictEqual([bobs.length, notes.length], [0, 0])
      }).pipe(Effect.provide(layer)))

    it.effect("20 concurrent attempts under a limit of 10: each sees the ones before it, 10 are counted", () =>
      Effect.gen(function*() {
        const repo = yield* RateLimitRepo
        const key = { userId: newUserId(), action: "upload" } as const
        const seen = yield* Effect.forEach(
          Array.from({ length: 20 }),
          () => repo.attempt(key, windowOf(60, at(0)), upTo(10)),
          { concurrency: "unbounded" }
        )
        assert.deepStrictEqual(seen.map((s) => s.length).sort((a, b) => a - b), [
          ...Array.from({ length: 10 }, (_, i) => i),
          ...Array.from({ length: 10 }, () => 10)
        ])
      }).pipe(Effect.provide(layer)))
  })
