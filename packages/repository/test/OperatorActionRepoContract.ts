import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, type Layer, TestClock } from "effect"
import { OperatorActionRepo } from "../src/OperatorActionRepo.js"
import { startClock } from "./fixtures.js"

export const operatorActionRepoContract = (name: string, layer: Layer.Layer<OperatorActionRepo>) =>
  describe(`OperatorActionRepo (${name})`, () => {
    it.effect("records who did what, when, and lists the latest first within the limit", () =>
      Effect.gen(function*() {
        yield* startClock
        const repo = yield* OperatorActionRepo
        const first = yield* repo.record({
          operator: "ada",
          action: "sign-in",
          target: null,
          detail: null,
          at: yield* DateTime.now
        })
        assert.strictEqual(first.operator, "ada")
        assert.strictEqual(first.action, "sign-in")
        yield* TestClock.adjust("1 minute")
        const pause = yield* repo.record({
          operator: "ada",
          action: "job.pause",
          target: "calendar-sync",
          detail: "provider outage",
          at: yield* DateTime.now
        })
        yield* TestClock.adjust("1 minute")
        yield* repo.record({
          operator: "bob",
          action: "task.requeue",
          target: "t-1",
          detail: null,
          at: yield* DateTime.now
        })
        const latest = yield* repo.recent(2)
        assert.deepStrictEqual(latest.map((a) => [a.operator, a.action, a.target]), [
          ["bob", "task.requeue", "t-1"],
          ["ada", "job.pause", "calendar-sync"]
        ])
        assert.strictEqual(latest[1].detail, "provider outage")
        assert.isTrue(DateTime.Equivalence(latest[1].at, pause.at))
        assert.strictEqual((yield* repo.recent(10)).length, 3)
      }).pipe(Effect.provide(layer)))
  })
