import { assert, describe, it } from "@effect/vitest"
import { Array, DateTime, Effect, Either, Layer } from "effect"
import { AuthSessionRepo, SessionSelector } from "../src/AuthSessionRepo.js"
import { BookingRepo } from "../src/BookingRepo.js"
import * as Repositories from "../src/Repositories.js"
import * as TestDatabase from "../src/testing/TestDatabase.js"
import { bookingSetup } from "./BookingRepoContract.js"
import { at, makeTherapist, startClock, T0 } from "./fixtures.js"

// What only a real database can show: rows claimed by one transaction are invisible to another.
const layer = Repositories.layerPg.pipe(Layer.provideMerge(TestDatabase.layer))

describe("Postgres concurrency", () => {
  it.effect("concurrent cleaners delete each expired session exactly once", () =>
    Effect.gen(function*() {
      yield* startClock
      const repo = yield* AuthSessionRepo
      const user = yield* makeTherapist()
      const created = yield* Effect.forEach(Array.range(1, 200), (i) =>
        repo.insert({
          userId: user.id,
          tokenHash: `t${i}`,
          expiresAt: DateTime.add(T0, { seconds: i }),
          userAgent: null,
          ip: null
        }), { concurrency: 10 })
      const now = at("1 day")
      const cleaner = Effect.iterate({ done: false, ids: [] as Array<string> }, {
        while: (state) => !state.done,
        body: (state) =>
          Effect.map(repo.deleteBatch(SessionSelector.Expired({ now }), 7), (batch) => ({
            done: batch.sessionIds.length === 0,
            ids: [...state.ids, ...batch.sessionIds]
          }))
      })
      const results = yield* Effect.all([cleaner, cleaner, cleaner, cleaner], { concurrency: "unbounded" })
      const all = results.flatMap((r) => r.ids)
      assert.strictEqual(all.length, created.length)
      assert.strictEqual(new Set(all).size, created.length)
    }).pipe(Effect.provide(layer)))

  it.effect("of concurrent overlapping bookings exactly one wins", () =>
    Effect.gen(function*() {
      const { book, therapist } = yield* bookingSetup
      const attempts = yield* Effect.all(
        Array.makeBy(8, (i) => Effect.either(book(24 + i * 0.1, 25 + i * 0.1))),
        { concurrency: "unbounded" }
      )
      const won = attempts.filter(Either.isRight)
      assert.strictEqual(won.length, 1)
      for (const lost of attempts.filter(Either.isLeft)) assert.strictEqual(lost.left._tag, "BookingOverlap")
      const stored = yield* Effect.flatMap(BookingRepo, (repo) => repo.list(therapist.id, { limit: 20 }))
      assert.strictEqual(stored.length, 1)
    }).pipe(Effect.provide(layer)))
})
