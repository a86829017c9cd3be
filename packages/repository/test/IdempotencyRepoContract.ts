import type { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, type Layer, Ref } from "effect"
import { IdempotencyRepo } from "../src/IdempotencyRepo.js"
import type { UserRepo } from "../src/UserRepo.js"
import { makeTherapist, startClock, transactions } from "./fixtures.js"

export type IdempotencyLayer = Layer.Layer<IdempotencyRepo | UserRepo | SqlClient.SqlClient>

const setup = Effect.gen(function*() {
  yield* startClock
  const user = yield* makeTherapist()
  const runs = yield* Ref.make(0)
  const base = yield* IdempotencyRepo
  const transaction = yield* transactions
  // Each call in its own transaction, as `Bookings.create` opens one around it.
  const repo: typeof base = { run: (scope, compute) => transaction(base.run(scope, compute)) }
  const compute = (body: unknown) => Effect.as(Ref.update(runs, (n) => n + 1), { status: 201, body })
  return { user, runs, repo, compute }
})

export const idempotencyRepoContract = (name: string, layer: IdempotencyLayer) =>
  describe(`IdempotencyRepo (${name})`, () => {
    it.effect("runs once per key, replays the stored response, refuses another hash", () =>
      Effect.gen(function*() {
        const { compute, repo, runs, user } = yield* setup
        const scope = { userId: user.id, key: "k1", requestHash: "h1" }
        const first = yield* repo.run(scope, compute({ id: "b1", nested: { n: 1 } }))
        assert.deepStrictEqual(first, {
          replayed: false,
          response: { status: 201, body: { id: "b1", nested: { n: 1 } } }
        })
        const again = yield* repo.run(scope, compute({ id: "b2" }))
        assert.deepStrictEqual(again, { replayed: true, response: first.response })
        const mismatch = yield* Effect.flip(repo.run({ ...scope, requestHash: "h2" }, compute({ id: "b3" })))
        assert.strictEqual(mismatch._tag, "IdempotencyKeyReused")
        assert.strictEqual(yield* Ref.get(runs), 1)
      }).pipe(Effect.provide(layer)))

    it.effect("keys are scoped per user", () =>
      Effect.gen(function*() {
        const { compute, repo, runs, user } = yield* setup
        const other = yield* makeTherapist()
        yield* repo.run({ userId: user.id, key: "same", requestHash: "a" }, compute(1))
        const theirs = yield* repo.run({ userId: other.id, key: "same", requestHash: "b" }, compute(2))
        assert.deepStrictEqual(theirs, { replayed: false, response: { status: 201, body: 2 } })
        assert.strictEqual(yield* Ref.get(runs), 2)
      }).pipe(Effect.provide(layer)))

    it.effect("a computation that dies stores nothing, so the key can be retried", () =>
      Effect.gen(function*() {
        const { compute, repo, user } = yield* setup
        const scope = { userId: user.id, key: "flaky", requestHash: "h" }
        const died = yield* Effect.exit(repo.run(scope, Effect.dieMessage("boom")))
        assert.isTrue(Exit.isFailure(died))
        const retried = yield* repo.run(scope, compute("ok"))
        assert.deepStrictEqual(retried, { replayed: false, response: { status: 201, body: "ok" } })
      }).pipe(Effect.provide(layer)))

    it.effect("concurrent calls with one key compute once and all see the same response", () =>
      Effect.gen(function*() {
        const { compute, repo, runs, user } = yield* setup
        const scope = { userId: user.id, key: "burst", requestHash: "h" }
        const results = yield* Effect.all(
          Array.from({ length: 6 }, (_, i) => repo.run(scope, compute({ attempt: i }))),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(yield* Ref.get(runs), 1)
        assert.strictEqual(results.filter((r) => !r.replayed).length, 1)
        assert.strictEqual(new Set(results.map((r) => JSON.stringify(r.response))).size, 1)
      }).pipe(Effect.provide(layer)))
  })
