import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { type TaskId, TaskStore } from "../src/TaskStore.js"
import { at, insertOne, lease, newTask } from "./fixtures.js"

// Leases on the memory store, driven directly with explicit times: what a claim takes, and what a
// worker whose lease was taken over can no longer do.

const row = (id: TaskId) => Effect.flatMap(TaskStore, (store) => Effect.map(store.get(id), Option.getOrThrow))

describe("memory task store leases", () => {
  it.effect("a claim takes due tasks of its own queue only, each with no error from an earlier lease", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore
      const mine = yield* insertOne(newTask({ name: "mine", queue: "a" }))
      const theirs = yield* insertOne(newTask({ name: "theirs", queue: "b" }))
      const claimed = yield* store.claim("a", lease(at("1 second")), 10)
      assert.deepStrictEqual(claimed.map((r) => r.id), [mine])
      assert.strictEqual(claimed[0].lastError, null)
      assert.strictEqual((yield* row(theirs)).status, "pending")
    }).pipe(Effect.provide(TaskStore.layerMemory)))

  it.effect("a lapsed final attempt is buried by a claim of its own queue, not of another", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore
      const last = yield* insertOne(newTask({ name: "last", queue: "a", maxAttempts: 1 }))
      yield* store.claim("a", lease(at(0)), 1)
      // The lease lapses at 30 s; a claim on another queue leaves the task alone.
      yield* store.claim("b", lease(at("1 minute")), 10)
      assert.strictEqual((yield* row(last)).status, "running")
      yield* store.claim("a", lease(at("1 minute")), 10)
      const buried = yield* row(last)
      assert.strictEqual(buried.status, "dead")
      assert.include(buried.lastError!, "on the final attempt")
    }).pipe(Effect.provide(TaskStore.layerMemory)))

  it.effect("once another worker reclaims a lapsed task, the old lease can neither finish nor extend it", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore
      const id = yield* insertOne(newTask({ name: "slow" }))
      const first = lease(at(0))
      yield* store.claim("default", first, 1)
      const second = lease(at("1 minute"))
      const [reclaimed] = yield* store.claim("default", second, 1)
      assert.strictEqual(reclaimed.attempts, 2)
      assert.include(reclaimed.lastError!, `lease ${first.leaseId} stopped renewing`)

      const now = at("61 seconds")
      assert.deepStrictEqual(yield* store.complete([{ id, leaseId: first.leaseId }], now), [])
      assert.isFalse(yield* store.extendLease(id, first.leaseId, at("2 minutes")))
      assert.isFalse(yield* store.retry(id, first.leaseId, { now, runAt: now, error: "late" }))
      assert.isFalse(yield* store.bury(id, first.leaseId, { now, error: "late" }))
      assert.isFalse(yield* store.release(id, first.leaseId, now))
      const still = yield* row(id)
      assert.strictEqual(still.status, "running")
      assert.strictEqual(still.leaseId, second.leaseId)
      assert.strictEqual(still.lockedUntil!.epochMillis, second.until.epochMillis)

      // The current holder can.
      assert.isTrue(yield* store.extendLease(id, second.leaseId, at("2 minutes")))
      assert.deepStrictEqual(yield* store.complete([{ id, leaseId: second.leaseId }], now), [id])
      assert.strictEqual((yield* row(id)).status, "succeeded")
      // A finished task is held by no lease any more.
      assert.isFalse(yield* store.release(id, second.leaseId, now))
    }).pipe(Effect.provide(TaskStore.layerMemory)))

  it.effect("lease operations on a task that does not exist change nothing", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore
      const missing = "00000000-0000-4000-8000-000000000000" as TaskId
      const now = at(0)
      assert.deepStrictEqual(yield* store.complete([{ id: missing, leaseId: "x" }], now), [])
      assert.isFalse(yield* store.extendLease(missing, "x", now))
      assert.isFalse(yield* store.release(missing, "x", now))
    }).pipe(Effect.provide(TaskStore.layerMemory)))

  it.effect("releasing a task gives back only the attempt in progress", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore
      const id = yield* insertOne(newTask({ name: "handed.back" }))
      const first = lease(at(0))
      yield* store.claim("default", first, 1)
      yield* store.retry(id, first.leaseId, { now: at(0), runAt: at("1 second"), error: "boom" })
      const second = lease(at("1 second"))
      yield* store.claim("default", second, 1)
      assert.strictEqual((yield* row(id)).attempts, 2)
      assert.isTrue(yield* store.release(id, second.leaseId, at("2 seconds")))
      const released = yield* row(id)
      assert.strictEqual(released.status, "pending")
      assert.strictEqual(released.attempts, 1)
      // The error of the failed attempt stays for the operator.
      assert.strictEqual(released.lastError, "boom")
    }).pipe(Effect.provide(TaskStore.layerMemory)))
})
