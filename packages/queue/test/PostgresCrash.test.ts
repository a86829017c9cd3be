import * as TestDatabase from "@clinic/repository/testing/TestDatabase"
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Layer, Option, Ref, Schema, Scope, TestClock } from "effect"
import * as Registry from "../src/Registry.js"
import * as Task from "../src/Task.js"
import * as TaskQueue from "../src/TaskQueue.js"
import { type TaskId, TaskStore, type TaskStoreShape } from "../src/TaskStore.js"
import * as Worker from "../src/Worker.js"
import { at, eventually, sleepingUntil, startClock } from "./fixtures.js"

// What only a real database shows: transactions, row locks between connections, a lease outliving
// the worker that took it.
const layer = Layer.provideMerge(TaskStore.layerPg, TestDatabase.layer)

const Payload = Schema.Struct({ n: Schema.Number })

/** The store as a process that has died sees it: from `killed` on, nothing it writes arrives. */
const crashable = (store: TaskStoreShape, killed: Ref.Ref<boolean>): TaskStoreShape => {
  const unlessKilled = <A>(effect: Effect.Effect<A>, dead: A) =>
    Effect.flatMap(Ref.get(killed), (k) => (k ? Effect.succeed(dead) : effect))
  return {
    ...store,
    claim: (queue, lease, limit) => unlessKilled(store.claim(queue, lease, limit), []),
    extendLease: (id, leaseId, until) => unlessKilled(store.extendLease(id, leaseId, until), false),
    complete: (tasks, now) => unlessKilled(store.complete(tasks, now), []),
    retry: (id, leaseId, options) => unlessKilled(store.retry(id, leaseId, options), false),
    bury: (id, leaseId, options) => unlessKilled(store.bury(id, leaseId, options), false),
    release: (id, leaseId, now) => unlessKilled(store.release(id, leaseId, now), false)
  }
}

describe("task queue on Postgres: transactions, concurrency, crashes", () => {
  it.effect("enqueue joins the caller's transaction", () =>
    Effect.gen(function*() {
      yield* startClock
      const sql = yield* SqlClient.SqlClient
      const task = Task.make({ name: "test.tx", payload: Payload, handler: () => Effect.void })
      const rolledBack = yield* Effect.gen(function*() {
        const { id } = yield* TaskQueue.enqueue(task, { n: 1 })
        return yield* Effect.fail({ _tag: "Abort" as const, id })
      }).pipe(sql.withTransaction, Effect.flip)
      assert.strictEqual(rolledBack._tag, "Abort")
      assert.isTrue(Option.isNone(yield* TaskQueue.get((rolledBack as { readonly id: TaskId }).id)))
      const committed = yield* TaskQueue.enqueue(task, { n: 2 }).pipe(sql.withTransaction, Effect.orDie)
      assert.strictEqual(Option.getOrThrow(yield* TaskQueue.get(committed.id)).status, "pending")
    }).pipe(Effect.provide(layer)))

  it.effect("two workers with four slots each run every task exactly once and never one task twice at once", () =>
    Effect.gen(function*() {
      yield* startClock
      const sql = yield* SqlClient.SqlClient
      const starts = yield* Ref.make<ReadonlyMap<number, number>>(new Map())
      const running = yield* Ref.make<ReadonlySet<number>>(new Set())
      const overlaps = yield* Ref.make(0)
      const task = Task.make({
        name: "test.concurrent",
        payload: Payload,
        handler: ({ n }) =>
          Effect.gen(function*() {
            yield* Ref.update(starts, (m) => new Map(m).set(n, (m.get(n) ?? 0) + 1))
            const already = yield* Ref.modify(running, (s) => [s.has(n), new Set(s).add(n)] as const)
            if (already) yield* Ref.update(overlaps, (o) => o + 1)
            // Real work on another connection widens the window in which a double claim would show.
            yield* sql`SELECT pg_sleep(0.005)`.pipe(Effect.orDie)
            yield* Ref.update(running, (s) => {
              const next = new Set(s)
              next.delete(n)
              return next
            })
          })
      })
      const registry = yield* Registry.make({
        tasks: [task],
        queues: [{ name: "default", concurrency: 4, pollInterval: "1 hour" }]
      })
      const scope = yield* Scope.make()
      const workers = yield* Effect.all([Worker.make(registry), Worker.make(registry)]).pipe(Scope.extend(scope))
      yield* eventually(Effect.map(Effect.all(workers.map((w) => w.status)), (s) => s.every((x) => x.listening)))
      const total = 60
      yield* Effect.forEach(Array.from({ length: total }, (_, n) => n), (n) => TaskQueue.enqueue(task, { n }), {
        concurrency: 5
      })
      yield* eventually(Effect.map(Ref.get(starts), (m) => m.size === total), 20_000)
      yield* Scope.close(scope, Exit.void)
      const counts = [...(yield* Ref.get(starts)).values()]
      assert.isTrue(counts.every((c) => c === 1), "each task ran once")
      assert.strictEqual(yield* Ref.get(overlaps), 0)
      const succeeded = yield* Effect.flatMap(TaskStore, (s) => s.list({ status: "succeeded", limit: 1000 }))
      assert.strictEqual(succeeded.length, total)
      // Both workers took part (each stops claiming only when nothing is due).
      const outcomes = yield* Effect.all(workers.map((w) => w.status))
      assert.strictEqual(outcomes[0].outcomes.succeeded + outcomes[1].outcomes.succeeded, total)
    }).pipe(Effect.provide(layer)))

  it.effect("concurrent drains claim each due task once", () =>
    Effect.gen(function*() {
      yield* startClock
      const ran = yield* Ref.make<ReadonlyArray<number>>([])
      const task = Task.make({
        name: "test.drained",
        payload: Payload,
        handler: ({ n }) => Ref.update(ran, (r) => [...r, n])
      })
      const registry = yield* Registry.make({ tasks: [task], queues: [{ name: "default", concurrency: 1 }] })
      yield* Effect.forEach(Array.from({ length: 100 }, (_, n) => n), (n) => TaskQueue.enqueue(task, { n }))
      const results = yield* Effect.all(Array.from({ length: 6 }, () => Worker.drain(registry, "default")), {
        concurrency: "unbounded"
      })
      assert.strictEqual(results.flat().length, 100)
      const numbers = yield* Ref.get(ran)
      assert.strictEqual(new Set(numbers).size, 100)
      assert.strictEqual(numbers.length, 100)
    }).pipe(Effect.provide(layer)))

  it.effect("a worker that dies mid-task loses its lease; another completes the task once, after the lease", () =>
    Effect.gen(function*() {
      yield* startClock
      const starts = yield* Ref.make(0)
      const completions = yield* Ref.make(0)
      const firstRun = yield* Deferred.make<void>()
      const secondRun = yield* Deferred.make<void>()
      const task = Task.make({
        name: "test.crash",
        payload: Payload,
        handler: () =>
          Effect.gen(function*() {
            const attempt = yield* Ref.updateAndGet(starts, (n) => n + 1)
            // The first run hangs until its process dies; the second finishes.
            if (attempt === 1) {
              yield* Deferred.succeed(firstRun, undefined)
              yield* Effect.never
            }
            yield* Ref.update(completions, (n) => n + 1)
            yield* Deferred.succeed(secondRun, undefined)
          })
      })
      // A poll interval longer than the lease: the survivor's one timer lies past the lease's end,
      // so a single clock move wakes it after the lapse (no per-poll clock stepping).
      const registry = yield* Registry.make({
        tasks: [task],
        queues: [{ name: "default", concurrency: 1, pollInterval: "10 seconds", lease: "5 seconds" }]
      })
      const store = yield* TaskStore
      const killed = yield* Ref.make(false)

      const doomedScope = yield* Scope.make()
      const doomed = yield* Worker.make(registry, { shutdownBudget: "2 seconds", depthInterval: "1 hour" }).pipe(
        Effect.provideService(TaskStore, crashable(store, killed)),
        Scope.extend(doomedScope)
      )
      yield* eventually(Effect.map(doomed.status, (s) => s.listening))
      const { id } = yield* TaskQueue.enqueue(task, { n: 1 })
      yield* Deferred.await(firstRun)

      const survivorScope = yield* Scope.make()
      yield* Worker.make(registry, { depthInterval: "1 hour" }).pipe(Scope.extend(survivorScope))
      // The survivor's poll must be set (after its first claim, empty, a real round trip) before
      // the clock moves, or it would lie that much later than T0+10s; the doomed worker's lies there too.
      yield* sleepingUntil(at("10 seconds"), 2)

      // The process dies: its writes no longer arrive, and its fibers go away.
      yield* Ref.set(killed, true)
      const dying = yield* Effect.fork(Scope.close(doomedScope, Exit.void))
      // Its shutdown budget must be on the TestClock before the clock moves.
      yield* sleepingUntil(at("2 seconds"))
      yield* TestClock.adjust("3 seconds")
      yield* Fiber.join(dying)
      const held = Option.getOrThrow(yield* TaskQueue.get(id))
      assert.strictEqual(held.status, "running", "the dead worker's lease still holds the task")
      assert.strictEqual(yield* Ref.get(starts), 1)

      // The survivor sleeps until its poll at T0+10s, past the lease (T0+5s): that poll claims it.
      yield* sleepingUntil(at("10 seconds"))
      yield* TestClock.adjust("7 seconds")
      yield* Deferred.await(secondRun)
      // The handler finishes before the worker records the outcome: wait (real time) for the record.
      yield* eventually(Effect.map(TaskQueue.get(id), (row) => Option.getOrThrow(row).status === "succeeded"))
      const done = Option.getOrThrow(yield* TaskQueue.get(id))
      assert.strictEqual(done.status, "succeeded")
      assert.strictEqual(done.attempts, 2)
      assert.strictEqual(yield* Ref.get(starts), 2)
      yield* Scope.close(survivorScope, Exit.void)
      assert.strictEqual(yield* Ref.get(completions), 1)
    }).pipe(Effect.provide(layer)))
})

describe("task notifications on Postgres", () => {
  it.effect("a worker still wakes on enqueue after another worker of the process stopped", () =>
    Effect.gen(function*() {
      yield* startClock
      const ran = yield* Ref.make(0)
      const task = Task.make({ name: "test.wake", payload: Payload, handler: () => Ref.update(ran, (n) => n + 1) })
      const registry = yield* Registry.make({
        tasks: [task],
        queues: [{ name: "default", concurrency: 1, pollInterval: "1 hour" }]
      })
      const first = yield* Scope.make()
      const second = yield* Scope.make()
      const a = yield* Worker.make(registry, { depthInterval: "1 hour" }).pipe(Scope.extend(first))
      const b = yield* Worker.make(registry, { depthInterval: "1 hour" }).pipe(Scope.extend(second))
      yield* eventually(Effect.map(Effect.all([a.status, b.status]), ([x, y]) => x.listening && y.listening))
      yield* Scope.close(first, Exit.void)
      // The poll interval never passes: only a notification can start this task.
      const { id } = yield* TaskQueue.enqueue(task, { n: 1 })
      yield* eventually(Effect.map(Ref.get(ran), (n) => n === 1))
      // The survivor ran it, once, and recorded it; the stopped worker took no part.
      yield* eventually(Effect.map(b.status, (s) => s.outcomes.succeeded === 1))
      assert.strictEqual((yield* a.status).outcomes.succeeded, 0, "the stopped worker ran nothing")
      // Completions are written in groups in the background; a stop waits for them.
      yield* Scope.close(second, Exit.void)
      const row = Option.getOrThrow(yield* TaskQueue.get(id))
      assert.strictEqual(row.status, "succeeded")
      assert.strictEqual(row.attempts, 1)
      assert.strictEqual(yield* Ref.get(ran), 1)
    }).pipe(Effect.provide(layer)))
})
