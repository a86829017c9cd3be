import { assert, describe, it } from "@effect/vitest"
import type { Layer } from "effect"
import {
  Cause,
  DateTime,
  Deferred,
  Duration,
  Effect,
  Exit,
  Fiber,
  Option,
  Ref,
  Schema,
  Scope,
  Stream,
  TestClock
} from "effect"
import * as Backoff from "../src/Backoff.js"
import * as Registry from "../src/Registry.js"
import * as Task from "../src/Task.js"
import * as TaskQueue from "../src/TaskQueue.js"
import { TaskStore } from "../src/TaskStore.js"
import * as Worker from "../src/Worker.js"
import { at, eventually, settle, sleepers, sleepingUntil, startClock } from "./fixtures.js"

const Payload = Schema.Struct({ label: Schema.String })
const noJitter = Backoff.make({ base: "1 second", max: "1 minute", jitter: 0 })

/** A task that records the labels it ran, in order, and fails while `failing` is above zero. */
const recorder = (options: {
  readonly name?: string
  readonly priority?: number
  readonly maxAttempts?: number
  readonly backoff?: Backoff.Backoff
  readonly timeout?: Duration.DurationInput
  readonly failTimes?: number
} = {}) =>
  Effect.gen(function*() {
    const ran = yield* Ref.make<ReadonlyArray<string>>([])
    const failing = yield* Ref.make(options.failTimes ?? 0)
    const task = Task.make({
      name: options.name ?? "test.record",
      payload: Payload,
      queue: "default",
      priority: options.priority ?? 0,
      maxAttempts: options.maxAttempts ?? 3,
      backoff: options.backoff ?? noJitter,
      timeout: options.timeout ?? "1 minute",
      handler: ({ label }) =>
        Effect.gen(function*() {
          yield* Ref.update(ran, (labels) => [...labels, label])
          const left = yield* Ref.getAndUpdate(failing, (n) => n - 1)
          if (left > 0) return yield* Effect.fail(new Error(`boom ${label}`))
        })
    })
    const registry = yield* Registry.make({ tasks: [task], queues: [{ name: "default", concurrency: 2 }] })
    return { task, registry, ran, failing }
  })

const deadWorker = crypto.randomUUID()

export type QueueLayer = Layer.Layer<TaskStore>

export const taskQueueContract = (name: string, layer: QueueLayer) =>
  describe(`task queue (${name})`, () => {
    it.effect("runs an enqueued task once with its decoded payload and records success", () =>
      Effect.gen(function*() {
        yield* startClock
        const { ran, registry, task } = yield* recorder()
        const { id, inserted } = yield* TaskQueue.enqueue(task, { label: "a" })
        assert.isTrue(inserted)
        const results = yield* Worker.drain(registry, "default")
        assert.deepStrictEqual(results.map((r) => r.outcome), ["succeeded"])
        assert.deepStrictEqual(yield* Ref.get(ran), ["a"])
        const row = Option.getOrThrow(yield* TaskQueue.get(id))
        assert.strictEqual(row.status, "succeeded")
        assert.strictEqual(row.attempts, 1)
        assert.strictEqual(row.finishedAt!.epochMillis, at(0).epochMillis)
        assert.deepStrictEqual(yield* Worker.drain(registry, "default"), [])
      }).pipe(Effect.provide(layer)))

    it.effect("runs higher priority first, then oldest first", () =>
      Effect.gen(function*() {
        yield* startClock
        const { ran, registry, task } = yield* recorder()
        yield* TaskQueue.enqueue(task, { label: "low" }, { priority: -1 })
        yield* TestClock.adjust("1 millis")
        yield* TaskQueue.enqueue(task, { label: "normal-1" })
        yield* TestClock.adjust("1 millis")
        yield* TaskQueue.enqueue(task, { label: "urgent" }, { priority: 10 })
        yield* TestClock.adjust("1 millis")
        yield* TaskQueue.enqueue(task, { label: "normal-2" })
        yield* Worker.drain(registry, "default")
        assert.deepStrictEqual(yield* Ref.get(ran), ["urgent", "normal-1", "normal-2", "low"])
      }).pipe(Effect.provide(layer)))

    it.effect("a delayed task waits for its runAt", () =>
      Effect.gen(function*() {
        yield* startClock
        const { ran, registry, task } = yield* recorder()
        yield* TaskQueue.enqueue(task, { label: "later" }, { delay: "10 minutes" })
        yield* TaskQueue.enqueue(task, { label: "exact" }, { runAt: at("1 hour") })
        yield* TestClock.adjust("9 minutes")
        assert.deepStrictEqual(yield* Worker.drain(registry, "default"), [])
        yield* TestClock.adjust("1 minute")
        yield* Worker.drain(registry, "default")
        assert.deepStrictEqual(yield* Ref.get(ran), ["later"])
        yield* TestClock.adjust("50 minutes")
        yield* Worker.drain(registry, "default")
        assert.deepStrictEqual(yield* Ref.get(ran), ["later", "exact"])
      }).pipe(Effect.provide(layer)))

    it.effect("retries with exponential backoff and is dead after the last attempt", () =>
      Effect.gen(function*() {
        yield* startClock
        const { ran, registry, task } = yield* recorder({ maxAttempts: 4, failTimes: 99 })
        const { id } = yield* TaskQueue.enqueue(task, { label: "x" })
        const first = yield* Worker.drain(registry, "default")
        assert.strictEqual(first[0].outcome, "retried")
        assert.strictEqual(Option.getOrThrow(first[0].retryAt).epochMillis, at("1 second").epochMillis)
        // Each retry waits twice as long: 1s, 2s, 4s.
        for (const wait of [1, 2, 4]) {
          yield* TestClock.adjust(`${wait * 1000 - 1} millis`)
          assert.deepStrictEqual(yield* Worker.drain(registry, "default"), [], `not due before ${wait}s`)
          yield* TestClock.adjust("1 millis")
          assert.strictEqual((yield* Worker.drain(registry, "default")).length, 1)
        }
        const row = Option.getOrThrow(yield* TaskQueue.get(id))
        assert.strictEqual(row.status, "dead")
        assert.strictEqual(row.attempts, 4)
        assert.include(row.lastError, "boom x")
        assert.strictEqual((yield* Ref.get(ran)).length, 4)
        yield* TestClock.adjust("1 hour")
        assert.deepStrictEqual(yield* Worker.drain(registry, "default"), [])
      }).pipe(Effect.provide(layer)))

    it.effect("backoff is capped at max and jitter only shortens it", () =>
      Effect.gen(function*() {
        yield* startClock
        const backoff = Backoff.make({ base: "10 seconds", max: "30 seconds", jitter: 0.5 })
        const { registry, task } = yield* recorder({ maxAttempts: 10, failTimes: 99, backoff })
        yield* TaskQueue.enqueue(task, { label: "x" })
        const expected = [10, 20, 30, 30]
        for (const full of expected) {
          const [result] = yield* Worker.drain(registry, "default")
          const now = yield* DateTime.now
          const wait = DateTime.distance(now, Option.getOrThrow(result.retryAt))
          assert.isAtLeast(wait, full * 500)
          assert.isAtMost(wait, full * 1000)
          yield* TestClock.adjust(`${full} seconds`)
        }
      }).pipe(Effect.provide(layer)))

    it.effect("a dead task can be requeued with fresh attempts", () =>
      Effect.gen(function*() {
        yield* startClock
        const { failing, ran, registry, task } = yield* recorder({ maxAttempts: 1, failTimes: 1 })
        const { id } = yield* TaskQueue.enqueue(task, { label: "x" })
        assert.strictEqual((yield* Worker.drain(registry, "default"))[0].outcome, "dead")
        assert.strictEqual(yield* Ref.get(failing), 0)
        assert.isTrue(yield* TaskQueue.requeue(id))
        const row = Option.getOrThrow(yield* TaskQueue.get(id))
        assert.strictEqual(row.status, "pending")
        assert.strictEqual(row.attempts, 0)
        assert.strictEqual((yield* Worker.drain(registry, "default"))[0].outcome, "succeeded")
        assert.deepStrictEqual(yield* Ref.get(ran), ["x", "x"])
        // Only dead tasks are requeued.
        assert.isFalse(yield* TaskQueue.requeue(id))
      }).pipe(Effect.provide(layer)))

    it.effect("operators: dead tasks are discarded (only dead ones), finished ones counted per bucket, lists newest first", () =>
      Effect.gen(function*() {
        yield* startClock
        const { registry, task } = yield* recorder({ maxAttempts: 1, failTimes: 1 })
        const dead = yield* TaskQueue.enqueue(task, { label: "dies" })
        yield* Worker.drain(registry, "default")
        yield* TestClock.adjust("6 minutes")
        const ok = yield* TaskQueue.enqueue(task, { label: "ok" })
        yield* Worker.drain(registry, "default")
        const store = yield* TaskStore
        const newest = yield* store.list({ limit: 10, newestFirst: true })
        assert.deepStrictEqual(newest.map((t) => t.id), [ok.id, dead.id])
        const buckets = yield* store.finished(at(0), 5)
        assert.deepStrictEqual(
          buckets.map((b) => [b.queue, b.start.epochMillis - at(0).epochMillis, b.succeeded, b.dead]),
          [
            ["default", 0, 0, 1],
            ["default", 5 * 60_000, 1, 0]
          ]
        )
        assert.isFalse(yield* store.discard(ok.id))
        assert.isTrue(yield* store.discard(dead.id))
        assert.isTrue(Option.isNone(yield* TaskQueue.get(dead.id)))
        assert.isFalse(yield* store.discard(dead.id))
      }).pipe(Effect.provide(layer)))

    it.effect("an idempotency key admits one task", () =>
      Effect.gen(function*() {
        yield* startClock
        const { ran, registry, task } = yield* recorder()
        const first = yield* TaskQueue.enqueue(task, { label: "a" }, { idempotencyKey: "booking-1:confirmed" })
        const second = yield* TaskQueue.enqueue(task, { label: "b" }, { idempotencyKey: "booking-1:confirmed" })
        const other = yield* TaskQueue.enqueue(task, { label: "c" }, { idempotencyKey: "booking-2:confirmed" })
        assert.strictEqual(second.id, first.id)
        assert.isFalse(second.inserted)
        assert.notStrictEqual(other.id, first.id)
        yield* Worker.drain(registry, "default")
        assert.deepStrictEqual([...yield* Ref.get(ran)].sort(), ["a", "c"])
        // The key stays taken after the task finished.
        assert.isFalse(
          (yield* TaskQueue.enqueue(task, { label: "d" }, { idempotencyKey: "booking-1:confirmed" })).inserted
        )
      }).pipe(Effect.provide(layer)))

    it.effect("task ids are UUIDv7 stamped with the enqueue's millisecond: a later task's id sorts after", () =>
      Effect.gen(function*() {
        yield* startClock
        const { task } = yield* recorder()
        const [first] = yield* TaskQueue.enqueueMany(task, [{ payload: { label: "a" } }])
        yield* TestClock.adjust("1 millis")
        const second = yield* TaskQueue.enqueue(task, { label: "b" })
        const millis = DateTime.toEpochMillis(yield* DateTime.now)
        for (const [id, at] of [[first.id, millis - 1], [second.id, millis]] as const) {
          assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
          assert.strictEqual(Number.parseInt(id.replace("-", "").slice(0, 12), 16), at)
          // Stored as written: Postgres keeps the uuid and reads it back the same.
          assert.strictEqual(Option.getOrThrow(yield* TaskQueue.get(id)).id, id)
        }
        assert.isTrue(first.id < second.id)
      }).pipe(Effect.provide(layer)))

    it.effect("enqueueMany adds a batch in order; idempotency keys hold within the batch and against existing tasks", () =>
      Effect.gen(function*() {
        yield* startClock
        const { ran, registry, task } = yield* recorder()
        const existing = yield* TaskQueue.enqueue(task, { label: "existing" }, { idempotencyKey: "k-old" })
        const results = yield* TaskQueue.enqueueMany(task, [
          { payload: { label: "a" } },
          { payload: { label: "b" }, idempotencyKey: "k-new" },
          { payload: { label: "c" }, idempotencyKey: "k-old" },
          { payload: { label: "d" }, idempotencyKey: "k-new" },
          { payload: { label: "e" }, priority: 5 }
        ])
        assert.deepStrictEqual(results.map((r) => r.inserted), [true, true, false, false, true])
        assert.strictEqual(results[2].id, existing.id, "a key used by an existing task names that task")
        assert.strictEqual(results[3].id, results[1].id, "a key repeated in the batch names its first task")
        assert.strictEqual(new Set(results.map((r) => r.id)).size, 4)
        assert.deepStrictEqual(yield* TaskQueue.enqueueMany(task, []), [])
        yield* Worker.drain(registry, "default")
        // Enqueued at the same instant: the priority comes first, the rest in any order.
        const order = yield* Ref.get(ran)
        assert.strictEqual(order[0], "e")
        assert.deepStrictEqual([...order].sort(), ["a", "b", "e", "existing"])
        const b = Option.getOrThrow(yield* TaskQueue.get(results[1].id))
        assert.deepStrictEqual(b.payload, { label: "b" })
        assert.strictEqual(b.status, "succeeded")
      }).pipe(Effect.provide(layer)))

    it.effect("a payload its schema rejects makes the task dead at once", () =>
      Effect.gen(function*() {
        yield* startClock
        const { ran, registry, task } = yield* recorder({ maxAttempts: 5 })
        const store = yield* TaskStore
        const now = yield* DateTime.now
        const [{ id }] = yield* store.insert([{
          name: task.name,
          queue: "default",
          payload: { label: 42 },
          priority: 0,
          maxAttempts: 5,
          runAt: now,
          idempotencyKey: null,
          now,
          traceParent: null
        }])
        const [result] = yield* Worker.drain(registry, "default")
        assert.strictEqual(result.outcome, "dead")
        assert.include(Option.getOrThrow(result.error), "invalid payload")
        assert.strictEqual(Option.getOrThrow(yield* store.get(id)).status, "dead")
        assert.deepStrictEqual(yield* Ref.get(ran), [])
      }).pipe(Effect.provide(layer)))

    it.effect("a task this worker does not define is handed back for later, not buried", () =>
      Effect.gen(function*() {
        yield* startClock
        const { registry } = yield* recorder()
        const store = yield* TaskStore
        const now = yield* DateTime.now
        const [{ id }] = yield* store.insert([{
          name: "newer.code.only",
          queue: "default",
          payload: {},
          priority: 0,
          maxAttempts: 1,
          runAt: now,
          idempotencyKey: null,
          now,
          traceParent: null
        }])
        const [result] = yield* Worker.drain(registry, "default")
        assert.strictEqual(result.outcome, "released")
        const row = Option.getOrThrow(yield* store.get(id))
        assert.strictEqual(row.status, "pending")
        assert.strictEqual(row.attempts, 0)
        assert.strictEqual(row.runAt.epochMillis, at("1 minute").epochMillis)
        assert.deepStrictEqual(yield* Worker.drain(registry, "default"), [])
      }).pipe(Effect.provide(layer)))

    it.effect("a handler that outruns its timeout is interrupted and retried", () =>
      Effect.gen(function*() {
        yield* startClock
        const interrupted = yield* Ref.make(false)
        const task = Task.make({
          name: "test.slow",
          payload: Payload,
          timeout: "30 seconds",
          maxAttempts: 2,
          backoff: noJitter,
          handler: () => Effect.never.pipe(Effect.onInterrupt(() => Ref.set(interrupted, true)))
        })
        const registry = yield* Registry.make({ tasks: [task], queues: [{ name: "default", concurrency: 1 }] })
        const { id } = yield* TaskQueue.enqueue(task, { label: "x" })
        const fiber = yield* Effect.fork(Worker.drain(registry, "default"))
        yield* sleepers(1) // the worker's watchdog: lease renewal and timeout
        yield* TestClock.adjust("30 seconds")
        const [result] = yield* Fiber.join(fiber)
        assert.strictEqual(result.outcome, "retried")
        assert.include(Option.getOrThrow(result.error), "ran longer than 30s")
        assert.isTrue(yield* Ref.get(interrupted))
        assert.strictEqual(Option.getOrThrow(yield* TaskQueue.get(id)).status, "pending")
      }).pipe(Effect.provide(layer)))

    it.effect("a lease renewal that fails (the database away a moment) does not end the renewals", () =>
      Effect.gen(function*() {
        yield* startClock
        const store = yield* TaskStore
        const renewals = yield* Ref.make(0)
        const renewed = yield* Deferred.make<void>()
        // The first renewal dies, as a Postgres call does on a lost connection; the next ones work.
        const flaky = TaskStore.of({
          ...store,
          extendLease: (id, leaseId, until) =>
            Effect.flatMap(
              Ref.getAndUpdate(renewals, (n) => n + 1),
              (n) =>
                n === 0
                  ? Effect.dieMessage("connection lost")
                  : Effect.tap(store.extendLease(id, leaseId, until), () => Deferred.succeed(renewed, undefined))
            )
        })
        const done = yield* Deferred.make<void>()
        const task = Task.make({ name: "test.long", payload: Payload, timeout: "5 minutes", handler: () => done })
        const registry = yield* Registry.make({
          tasks: [task],
          queues: [{ name: "default", concurrency: 1, lease: "30 seconds" }]
        })
        const { id } = yield* TaskQueue.enqueue(task, { label: "x" })
        const fiber = yield* Effect.fork(
          Worker.runOne(registry, "default").pipe(Effect.provideService(TaskStore, flaky))
        )
        yield* sleepingUntil(at("10 seconds")) // the first renewal
        yield* TestClock.adjust("10 seconds")
        yield* sleepingUntil(at("20 seconds")) // the next one, though the first died
        yield* TestClock.adjust("10 seconds")
        // Written, not only begun: on Postgres the renewal's write is real I/O still under way here.
        yield* Deferred.await(renewed)
        assert.strictEqual(yield* Ref.get(renewals), 2)
        assert.deepStrictEqual(Option.getOrThrow(yield* TaskQueue.get(id)).lockedUntil, at("50 seconds"))
        yield* Deferred.succeed(done, undefined)
        const result = Option.getOrThrow(yield* Fiber.join(fiber))
        assert.strictEqual(result.outcome, "succeeded")
      }).pipe(Effect.provide(layer)))

    it.effect("a lapsed lease makes the task claimable again; the old holder can no longer write", () =>
      Effect.gen(function*() {
        yield* startClock
        const { ran, registry, task } = yield* recorder({ maxAttempts: 3 })
        const store = yield* TaskStore
        const { id } = yield* TaskQueue.enqueue(task, { label: "x" })
        // A worker claims it and dies: nothing renews or finishes the lease.
        const now = yield* DateTime.now
        const claimed = yield* store.claim("default", { leaseId: deadWorker, now, until: at("30 seconds") }, 1)
        assert.strictEqual(claimed.length, 1)
        assert.deepStrictEqual(yield* Worker.drain(registry, "default"), [])
        yield* TestClock.adjust("30 seconds")
        const [result] = yield* Worker.drain(registry, "default")
        // The claim that took it over recorded why the first attempt ended.
        assert.strictEqual(
          Option.getOrThrow(yield* store.get(id)).lastError,
          `lease expired at 2026-03-02T09:00:30.000Z (lease ${deadWorker} stopped renewing: its worker died or lost the database)`
        )
        assert.strictEqual(result.outcome, "succeeded")
        assert.strictEqual(result.attempt, 2)
        assert.deepStrictEqual(yield* Ref.get(ran), ["x"])
        assert.deepStrictEqual(yield* store.complete([{ id, leaseId: deadWorker }], yield* DateTime.now), [])
        assert.isFalse(yield* store.release(id, deadWorker, yield* DateTime.now))
        assert.strictEqual(Option.getOrThrow(yield* store.get(id)).status, "succeeded")
      }).pipe(Effect.provide(layer)))

    it.effect("a batch claimed by a worker that dies is taken over after its lease, most urgent first", () =>
      Effect.gen(function*() {
        yield* startClock
        const { ran, registry, task } = yield* recorder()
        const store = yield* TaskStore
        yield* TaskQueue.enqueueMany(task, [
          { payload: { label: "x" } },
          { payload: { label: "y" }, priority: 1 },
          { payload: { label: "z" } }
        ])
        const now = yield* DateTime.now
        const claimed = yield* store.claim("default", { leaseId: deadWorker, now, until: at("30 seconds") }, 10)
        const labels = claimed.map((row) => (row.payload as { label: string }).label)
        assert.deepStrictEqual([labels[0], ...labels.slice(1).sort()], ["y", "x", "z"])
        assert.isTrue(claimed.every((row) => row.status === "running" && row.leaseId === deadWorker))
        assert.deepStrictEqual(yield* Worker.drain(registry, "default"), [])
        yield* TestClock.adjust("30 seconds")
        const results = yield* Worker.drain(registry, "default")
        assert.deepStrictEqual(results.map((r) => [r.outcome, r.attempt]), [
          ["succeeded", 2],
          ["succeeded", 2],
          ["succeeded", 2]
        ])
        assert.deepStrictEqual(yield* Ref.get(ran), labels)
        assert.deepStrictEqual(
          yield* store.complete(claimed.map((row) => ({ id: row.id, leaseId: deadWorker })), yield* DateTime.now),
          []
        )
      }).pipe(Effect.provide(layer)))

    it.effect("a lapsed lease on the last attempt makes the task dead", () =>
      Effect.gen(function*() {
        yield* startClock
        const { ran, registry, task } = yield* recorder({ maxAttempts: 1 })
        const store = yield* TaskStore
        const { id } = yield* TaskQueue.enqueue(task, { label: "x" })
        yield* store.claim("default", { leaseId: deadWorker, now: yield* DateTime.now, until: at("30 seconds") }, 1)
        yield* TestClock.adjust("31 seconds")
        assert.deepStrictEqual(yield* Worker.drain(registry, "default"), [])
        const row = Option.getOrThrow(yield* store.get(id))
        assert.strictEqual(row.status, "dead")
        assert.strictEqual(
          row.lastError,
          `lease expired at 2026-03-02T09:00:30.000Z (lease ${deadWorker} stopped renewing: its worker died or lost the database) on the final attempt`
        )
        assert.deepStrictEqual(yield* Ref.get(ran), [])
      }).pipe(Effect.provide(layer)))

    it.effect("a task whose lease lapsed competes with pending tasks by priority", () =>
      Effect.gen(function*() {
        yield* startClock
        const { ran, registry, task } = yield* recorder()
        const store = yield* TaskStore
        yield* TaskQueue.enqueue(task, { label: "lapsed" }, { priority: 5 })
        yield* store.claim("default", { leaseId: deadWorker, now: yield* DateTime.now, until: at("30 seconds") }, 1)
        yield* TaskQueue.enqueue(task, { label: "low" }, { priority: 0 })
        yield* TaskQueue.enqueue(task, { label: "high" }, { priority: 10 })
        yield* TestClock.adjust("30 seconds")
        yield* Worker.drain(registry, "default")
        assert.deepStrictEqual(yield* Ref.get(ran), ["high", "lapsed", "low"])
      }).pipe(Effect.provide(layer)))

    it.effect("hooks see each run: before, after with its duration, on failure with the retry time", () =>
      Effect.gen(function*() {
        yield* startClock
        const log = yield* Ref.make<ReadonlyArray<string>>([])
        const task = Task.make({
          name: "test.hooked",
          payload: Payload,
          maxAttempts: 2,
          backoff: noJitter,
          handler: ({ label }, context) =>
            label === "bad" && context.attempt === 1
              ? Effect.fail("nope")
              : Effect.sleep("3 seconds")
        })
        const registry = yield* Registry.make({ tasks: [task], queues: [{ name: "default", concurrency: 1 }] })
        const hooks: Worker.Hooks = {
          before: (c) => Ref.update(log, (l) => [...l, `before ${c.attempt}`]),
          after: (c, d) => Ref.update(log, (l) => [...l, `after ${c.attempt} ${Duration.toMillis(d)}ms`]),
          onFailure: (c, f) =>
            Ref.update(log, (l) => [
              ...l,
              `failure ${c.attempt} ${Cause.squash(f.cause)} retry at +${
                DateTime.distance(at(0), Option.getOrThrow(f.retryAt))
              }ms`
            ])
        }
        yield* TaskQueue.enqueue(task, { label: "bad" })
        yield* Worker.drain(registry, "default", { hooks })
        yield* TestClock.adjust("1 second")
        const fiber = yield* Effect.fork(Worker.drain(registry, "default", { hooks }))
        yield* sleepers(2) // handler, and the worker's watchdog (lease renewal and timeout)
        yield* TestClock.adjust("3 seconds")
        const [result] = yield* Fiber.join(fiber)
        assert.strictEqual(result.outcome, "succeeded")
        assert.deepStrictEqual(yield* Ref.get(log), [
          "before 1",
          "failure 1 nope retry at +1000ms",
          "before 2",
          "after 2 3000ms"
        ])
      }).pipe(Effect.provide(layer)))

    it.effect("prune deletes finished tasks older than the retention only", () =>
      Effect.gen(function*() {
        yield* startClock
        const { registry, task } = yield* recorder({ maxAttempts: 1, failTimes: 1 })
        yield* TaskQueue.enqueue(task, { label: "dies" })
        yield* TaskQueue.enqueue(task, { label: "succeeds" })
        yield* Worker.drain(registry, "default")
        yield* TestClock.adjust("2 days")
        yield* TaskQueue.enqueue(task, { label: "recent" })
        yield* TaskQueue.enqueue(task, { label: "pending" }, { delay: "1 hour" })
        yield* Worker.drain(registry, "default")
        assert.strictEqual(yield* TaskQueue.prune("1 day"), 2)
        const left = yield* Effect.flatMap(TaskStore, (s) => s.list({ limit: 10 }))
        assert.deepStrictEqual(left.map((r) => (r.payload as { label: string }).label).sort(), ["pending", "recent"])
      }).pipe(Effect.provide(layer)))

    it.effect("queue depth counts ready, scheduled, running and dead tasks", () =>
      Effect.gen(function*() {
        yield* startClock
        const { registry, task } = yield* recorder({ maxAttempts: 1, failTimes: 1 })
        const store = yield* TaskStore
        yield* TaskQueue.enqueue(task, { label: "dies" })
        yield* Worker.drain(registry, "default")
        yield* TaskQueue.enqueue(task, { label: "ready-1" })
        yield* TaskQueue.enqueue(task, { label: "ready-2" })
        yield* TaskQueue.enqueue(task, { label: "later" }, { delay: "1 minute" })
        yield* store.claim(
          "default",
          { leaseId: crypto.randomUUID(), now: yield* DateTime.now, until: at("1 minute") },
          1
        )
        assert.deepStrictEqual(yield* store.depth(yield* DateTime.now), [
          { queue: "default", ready: 1, scheduled: 1, running: 1, dead: 1 }
        ])
      }).pipe(Effect.provide(layer)))

    it.scoped("workers wake on an enqueue, run up to their concurrency, and stop gracefully", () =>
      Effect.gen(function*() {
        yield* startClock
        const gate = yield* Deferred.make<void>()
        const running = yield* Ref.make(0)
        const peak = yield* Ref.make(0)
        const done = yield* Ref.make(0)
        const task = Task.make({
          name: "test.gated",
          payload: Payload,
          handler: () =>
            Effect.acquireUseRelease(
              Effect.flatMap(Ref.updateAndGet(running, (n) => n + 1), (n) => Ref.update(peak, (p) => Math.max(p, n))),
              () => Deferred.await(gate),
              () => Ref.update(running, (n) => n - 1)
            ).pipe(Effect.zipRight(Ref.update(done, (n) => n + 1)))
        })
        const registry = yield* Registry.make({
          tasks: [task],
          queues: [{ name: "default", concurrency: 3, pollInterval: "1 hour" }]
        })
        const worker = yield* Worker.make(registry, { shutdownBudget: "10 seconds", depthInterval: "1 hour" })
        yield* eventually(Effect.map(worker.status, (s) => s.listening))
        for (let i = 0; i < 5; i++) yield* TaskQueue.enqueue(task, { label: `t${i}` })
        // No poll interval passes: only the enqueue notification can have woken the workers.
        yield* eventually(Effect.map(Ref.get(running), (n) => n === 3))
        const status = yield* worker.status
        assert.strictEqual(status.state, "running")
        assert.strictEqual(status.queues[0].inFlight, 3)
        yield* Deferred.succeed(gate, undefined)
        yield* eventually(Effect.map(Ref.get(done), (n) => n === 5))
        assert.strictEqual(yield* Ref.get(peak), 3)
        yield* worker.stop()
        assert.strictEqual((yield* worker.status).state, "stopped")
        assert.strictEqual((yield* worker.status).outcomes.succeeded, 5)
        // A stopped worker claims nothing.
        const { id } = yield* TaskQueue.enqueue(task, { label: "after-stop" })
        yield* TestClock.adjust("2 hours")
        assert.strictEqual(Option.getOrThrow(yield* TaskQueue.get(id)).status, "pending")
      }).pipe(Effect.provide(layer)))

    it.scoped("a stop hands back the claimed tasks no slot started; the running one finishes", () =>
      Effect.gen(function*() {
        yield* startClock
        const gate = yield* Deferred.make<void>()
        const started = yield* Ref.make<ReadonlyArray<string>>([])
        const task = Task.make({
          name: "test.batched",
          payload: Payload,
          handler: ({ label }) => Effect.zipRight(Ref.update(started, (l) => [...l, label]), Deferred.await(gate))
        })
        const registry = yield* Registry.make({
          tasks: [task],
          queues: [{ name: "default", concurrency: 1, pollInterval: "1 hour" }]
        })
        const ids = (yield* TaskQueue.enqueueMany(task, ["a", "b", "c"].map((label) => ({ payload: { label } }))))
          .map((r) => r.id)
        const worker = yield* Worker.make(registry, { claimBatch: 4, depthInterval: "1 hour" })
        yield* eventually(Effect.map(Ref.get(started), (l) => l.length === 1))
        // One claim took all three: the two waiting in the buffer are held too.
        for (const id of ids) assert.strictEqual(Option.getOrThrow(yield* TaskQueue.get(id)).status, "running")
        const stopping = yield* Effect.fork(worker.stop())
        yield* eventually(Effect.map(worker.status, (s) => s.state === "stopping"))
        yield* Deferred.succeed(gate, undefined)
        yield* Fiber.join(stopping)
        const [first] = yield* Ref.get(started)
        assert.deepStrictEqual(yield* Ref.get(started), [first])
        const firstId = ids[["a", "b", "c"].indexOf(first)]
        assert.strictEqual(Option.getOrThrow(yield* TaskQueue.get(firstId)).status, "succeeded")
        for (const id of ids.filter((id) => id !== firstId)) {
          const row = Option.getOrThrow(yield* TaskQueue.get(id))
          assert.strictEqual(row.status, "pending")
          assert.strictEqual(row.attempts, 0)
          assert.isNull(row.leaseId)
        }
      }).pipe(Effect.provide(layer)))

    it.scoped("a claimed task that waits in the buffer past the poll interval is handed back, not held", () =>
      Effect.gen(function*() {
        yield* startClock
        const gate = yield* Deferred.make<void>()
        const started = yield* Ref.make<ReadonlyArray<string>>([])
        const task = Task.make({
          name: "test.stale",
          payload: Payload,
          handler: ({ label }) =>
            Effect.zipRight(
              Ref.update(started, (l) => [...l, label]),
              label === "first" ? Deferred.await(gate) : Effect.void
            )
        })
        const registry = yield* Registry.make({
          tasks: [task],
          queues: [{ name: "default", concurrency: 1, pollInterval: "1 second" }]
        })
        const releases = yield* Ref.make(0)
        const store = yield* TaskStore
        const counted = TaskStore.of({
          ...store,
          release: (id, leaseId, now, runAt) =>
            Effect.zipLeft(store.release(id, leaseId, now, runAt), Ref.update(releases, (n) => n + 1))
        })
        const [first] = yield* TaskQueue.enqueueMany(task, [{ payload: { label: "first" }, priority: 1 }])
        const rest = yield* TaskQueue.enqueueMany(task, [{ payload: { label: "b" } }, { payload: { label: "c" } }])
        const worker = yield* Worker.make(registry, { claimBatch: 3, depthInterval: "1 hour" }).pipe(
          Effect.provideService(TaskStore, counted)
        )
        yield* eventually(Effect.map(Ref.get(started), (l) => l.length === 1))
        yield* TestClock.adjust("2 seconds")
        yield* Deferred.succeed(gate, undefined)
        yield* eventually(Effect.map(Ref.get(started), (l) => l.length === 3))
        yield* worker.stop()
        // Both waited 2 s in the buffer: handed back (attempt not counted), then claimed again.
        assert.strictEqual(yield* Ref.get(releases), 2)
        for (const { id } of [first, ...rest]) {
          const row = Option.getOrThrow(yield* TaskQueue.get(id))
          assert.strictEqual(row.status, "succeeded")
          assert.strictEqual(row.attempts, 1)
        }
      }).pipe(Effect.provide(layer)))

    it.scoped("an enqueue wakes one idle slot: one claim per task, however many slots idle", () =>
      Effect.gen(function*() {
        yield* startClock
        const done = yield* Ref.make(0)
        const task = Task.make({ name: "test.woken", payload: Payload, handler: () => Ref.update(done, (n) => n + 1) })
        const registry = yield* Registry.make({
          tasks: [task],
          queues: [{ name: "default", concurrency: 8, pollInterval: "1 hour" }]
        })
        const claims = yield* Ref.make(0)
        const store = yield* TaskStore
        const counted = TaskStore.of({
          ...store,
          claim: (queue, lease, limit) =>
            Effect.zipLeft(store.claim(queue, lease, limit), Ref.update(claims, (n) => n + 1))
        })
        const worker = yield* Worker.make(registry, { depthInterval: "1 hour" }).pipe(
          Effect.provideService(TaskStore, counted)
        )
        yield* eventually(Effect.map(worker.status, (s) => s.listening))
        // Starting, the eight slots look once between them.
        assert.strictEqual(yield* Ref.get(claims), 1)
        for (let i = 1; i <= 3; i++) {
          yield* TaskQueue.enqueue(task, { label: `t${i}` })
          yield* eventually(Effect.map(Ref.get(done), (n) => n === i))
          yield* eventually(Effect.map(worker.status, (s) => s.queues[0].inFlight === 0))
        }
        assert.strictEqual(yield* Ref.get(claims), 1 + 3)
        yield* worker.stop()
      }).pipe(Effect.provide(layer)))

    it.scoped("a slot woken while another slot's claim is under way claims again: that claim may predate its task", () =>
      Effect.gen(function*() {
        yield* startClock
        const ran = yield* Ref.make<ReadonlyArray<string>>([])
        const task = Task.make({
          name: "test.late",
          payload: Payload,
          handler: ({ label }) => Ref.update(ran, (l) => [...l, label])
        })
        const registry = yield* Registry.make({
          tasks: [task],
          queues: [{ name: "default", concurrency: 2, pollInterval: "1 hour" }]
        })
        const store = yield* TaskStore
        const claims = yield* Ref.make(0)
        const delivered = yield* Ref.make(0)
        // The next claim reads the queue, then stands still until `gate` opens: a claim whose read
        // came before a later enqueue's commit, as a slow claim on a loaded machine does.
        const holdNext = yield* Ref.make(false)
        const read = yield* Deferred.make<void>()
        const gate = yield* Deferred.make<void>()
        const held = TaskStore.of({
          ...store,
          claim: (queue, lease, limit) =>
            Effect.gen(function*() {
              const rows = yield* store.claim(queue, lease, limit)
              yield* Ref.update(claims, (n) => n + 1)
              if (yield* Ref.getAndSet(holdNext, false)) {
                yield* Deferred.succeed(read, undefined)
                yield* Deferred.await(gate)
              }
              return rows
            }),
          notifications: Stream.tap(
            store.notifications,
            (payload) => payload === "default" ? Ref.update(delivered, (n) => n + 1) : Effect.void
          )
        })
        const worker = yield* Worker.make(registry, { depthInterval: "1 hour" }).pipe(
          Effect.provideService(TaskStore, held)
        )
        yield* eventually(Effect.map(worker.status, (s) => s.listening))
        yield* eventually(Effect.map(Ref.get(claims), (n) => n === 1))
        yield* Ref.set(holdNext, true)
        yield* TaskQueue.enqueue(task, { label: "first" })
        // One slot is woken and its claim has read only "first".
        yield* Deferred.await(read)
        yield* TaskQueue.enqueue(task, { label: "second" })
        // The other slot is woken by the second enqueue and waits behind that claim.
        yield* eventually(Effect.map(Ref.get(delivered), (n) => n === 2))
        yield* settle
        yield* Deferred.succeed(gate, undefined)
        // With a poll interval of an hour, only a claim of the second slot's own finds "second".
        yield* eventually(Effect.map(Ref.get(ran), (l) => l.length === 2))
        assert.deepStrictEqual([...(yield* Ref.get(ran))].sort(), ["first", "second"])
        assert.strictEqual(yield* Ref.get(claims), 3)
        yield* worker.stop()
      }).pipe(Effect.provide(layer)))

    it.scoped("shutdown lets a task finish within the budget and hands back one that does not", () =>
      Effect.gen(function*() {
        yield* startClock
        const started = yield* Ref.make<ReadonlyArray<string>>([])
        const finished = yield* Ref.make<ReadonlyArray<string>>([])
        const task = Task.make({
          name: "test.timed",
          payload: Payload,
          timeout: "1 hour",
          handler: ({ label }) =>
            Ref.update(started, (l) => [...l, label]).pipe(
              Effect.zipRight(Effect.sleep(label === "quick" ? "2 seconds" : "1 minute")),
              Effect.zipRight(Ref.update(finished, (l) => [...l, label]))
            )
        })
        const registry = yield* Registry.make({
          tasks: [task],
          queues: [{ name: "default", concurrency: 2, pollInterval: "1 hour" }]
        })
        // Closing the worker's scope (as a layer's release does) is the shutdown.
        const scope = yield* Scope.make()
        const worker = yield* Worker.make(registry, { shutdownBudget: "5 seconds" }).pipe(Scope.extend(scope))
        yield* eventually(Effect.map(worker.status, (s) => s.listening))
        const quick = yield* TaskQueue.enqueue(task, { label: "quick" })
        const slow = yield* TaskQueue.enqueue(task, { label: "slow" })
        yield* eventually(Effect.map(Ref.get(started), (l) => l.length === 2))
        const stopping = yield* Effect.fork(Scope.close(scope, Exit.void))
        yield* eventually(Effect.map(worker.status, (s) => s.state === "stopping"))
        // The budget's timer must be on the TestClock before the clock moves.
        yield* sleepingUntil(at("5 seconds"))
        yield* TestClock.adjust("5 seconds")
        yield* Fiber.join(stopping)
        assert.strictEqual((yield* worker.status).state, "stopped")
        assert.deepStrictEqual(yield* Ref.get(finished), ["quick"])
        assert.strictEqual(Option.getOrThrow(yield* TaskQueue.get(quick.id)).status, "succeeded")
        const handedBack = Option.getOrThrow(yield* TaskQueue.get(slow.id))
        assert.strictEqual(handedBack.status, "pending")
        assert.strictEqual(handedBack.attempts, 0)
        assert.isNull(handedBack.leaseId)
      }).pipe(Effect.provide(layer)))
  })
