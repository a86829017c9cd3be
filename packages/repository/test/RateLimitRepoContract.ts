import { assert, describe, it } from "@effect/vitest"
import type { Layer } from "effect"
import { DateTime, Effect } from "effect"
import { RateLimitRepo } from "../src/RateLimitRepo.js"
import { at } from "./fixtures.js"

const newSubject = () => crypto.randomUUID()

/** A limit of `limit` per window on one key: counts the attempt only while below it; answers what it saw. */
const upTo = (limit: number) => ([inWindow]: ReadonlyArray<ReadonlyArray<number>>) => ({
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
        const key = [{ subject: newSubject(), action: "upload" }]
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
        const key = [{ subject: newSubject(), action: "upload" }]
        yield* repo.attempt(key, windowOf(60, at(0)), upTo(1))
        for (let minute = 1; minute < 5; minute++) {
          const seen = yield* repo.attempt(key, windowOf(60, at(`${minute} minutes`)), upTo(1))
          assert.strictEqual(seen.length, 1)
        }
      }).pipe(Effect.provide(layer)))

    it.effect("attempts are kept per subject and per action", () =>
      Effect.gen(function*() {
        const repo = yield* RateLimitRepo
        const alice = newSubject()
        const bob = newSubject()
        for (let i = 0; i < 3; i++) {
          yield* repo.attempt([{ subject: alice, action: "upload" }], windowOf(60, at(i)), upTo(10))
        }
        const bobs = yield* repo.attempt([{ subject: bob, action: "upload" }], windowOf(60, at(5)), upTo(10))
        const notes = yield* repo.attempt([{ subject: alice, action: "extract-notes" }], windowOf(60, at(5)), upTo(10))
        assert.deepStrictEqual([bobs.length, notes.length], [0, 0])
      }).pipe(Effect.provide(layer)))

    it.effect("20 concurrent attempts under a limit of 10: each sees the ones before it, 10 are counted", () =>
      Effect.gen(function*() {
        const repo = yield* RateLimitRepo
        const key = [{ subject: newSubject(), action: "upload" }]
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
    it.effect("several keys at once: the rule sees each, a counted attempt is recorded under all", () =>
      Effect.gen(function*() {
        const repo = yield* RateLimitRepo
        const email = `${newSubject()}@clinic.test`
        const pair = { action: "login-account-address", subject: JSON.stringify([email, "10.0.0.1"]) }
        const account = { action: "login-account", subject: email }
        yield* repo.attempt([account], windowOf(15, at(0)), () => ({ result: null, counted: true }))
        yield* repo.attempt([pair, account], windowOf(15, at("1 minute")), () => ({ result: null, counted: true }))
        yield* repo.attempt([pair, account], windowOf(15, at("2 minutes")), () => ({ result: null, counted: false }))
        const seen = yield* repo.attempt(
          [account, pair],
          windowOf(15, at("3 minutes")),
          (inWindow) => ({ result: inWindow, counted: false })
        )
        assert.deepStrictEqual(seen, [
          [at(0).epochMillis, at("1 minute").epochMillis],
          [at("1 minute").epochMillis]
        ])
      }).pipe(Effect.provide(layer)))

    it.effect("clear forgets every attempt of its keys; release the one at an instant; others stay", () =>
      Effect.gen(function*() {
        const repo = yield* RateLimitRepo
        const a = { action: "login-address", subject: newSubject() }
        const b = { action: "login-account", subject: newSubject() }
        for (let minute = 0; minute < 3; minute++) {
          yield* repo.attempt([a, b], windowOf(15, at(`${minute} minutes`)), () => ({ result: null, counted: true }))
        }
        yield* repo.release([b], at("1 minute"))
        const afterRelease = yield* repo.attempt(
          [a, b],
          windowOf(15, at("4 minutes")),
          (w) => ({ result: w, counted: false })
        )
        assert.deepStrictEqual(afterRelease, [
          [at(0).epochMillis, at("1 minute").epochMillis, at("2 minutes").epochMillis],
          [at(0).epochMillis, at("2 minutes").epochMillis]
        ])
        yield* repo.clear([a])
        const afterClear = yield* repo.attempt(
          [a, b],
          windowOf(15, at("5 minutes")),
          (w) => ({ result: w, counted: false })
        )
        assert.deepStrictEqual(afterClear.map((times) => times.length), [0, 2])
      }).pipe(Effect.provide(layer)))

    it.effect("an attempt prunes stale attempts of other subjects of its action", () =>
      Effect.gen(function*() {
        const repo = yield* RateLimitRepo
        const action = `prune-${newSubject()}`
        const sprayed = Array.from({ length: 5 }, () => ({ action, subject: newSubject() }))
        for (const key of sprayed) {
          yield* repo.attempt([key], windowOf(15, at(0)), () => ({ result: null, counted: true }))
        }
        // An hour later one attempt of someone else's: the sprayed subjects' attempts are gone.
        yield* repo.attempt(
          [{ action, subject: newSubject() }],
          windowOf(15, at("1 hour")),
          () => ({ result: null, counted: false })
        )
        const left = yield* repo.attempt(sprayed, windowOf(120, at("1 hour")), (w) => ({ result: w, counted: false }))
        assert.deepStrictEqual(
          left.map((times) => times.length),
          [0, 0, 0, 0, 0]
        )
      }).pipe(Effect.provide(layer)))
  })
