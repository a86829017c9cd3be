import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Option } from "effect"
import { type TaskId, TaskStore } from "../src/TaskStore.js"
import { at, insertOne, lease, newTask } from "./fixtures.js"

// The operator's views of the memory store (list, finished, depth) and its maintenance (prune),
// exercised directly on the store with explicit times.

/** Claims every due task of `queue` at `now` and finishes each with the outcome `outcome(name)`. */
const finishAll = (queue: string, now: DateTime.Utc, outcome: (name: string) => "succeeded" | "dead") =>
  Effect.gen(function*() {
    const store = yield* TaskStore
    const held = lease(now)
    const claimed = yield* store.claim(queue, held, 100)
    for (const row of claimed) {
      if (outcome(row.name) === "succeeded") yield* store.complete([{ id: row.id, leaseId: held.leaseId }], now)
      else yield* store.bury(row.id, held.leaseId, { now, error: "gave up" })
    }
    return claimed.length
  })

describe("memory task store views", () => {
  it.effect("list filters by queue, status and name together, oldest first, up to the limit", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore
      const a = yield* insertOne(newTask({ name: "email.send", queue: "email", now: at("1 second") }))
      const b = yield* insertOne(newTask({ name: "email.send", queue: "email", now: at("2 seconds") }))
      const c = yield* insertOne(newTask({ name: "email.digest", queue: "email", now: at("3 seconds") }))
      const d = yield* insertOne(newTask({ name: "email.send", queue: "sms", now: at("4 seconds") }))
      // `b` runs and succeeds: it is no longer pending.
      yield* store.claim("email", lease(at("10 seconds")), 100).pipe(
        Effect.flatMap((claimed) =>
          store.complete(
            claimed.filter((row) => row.id === b).map((row) => ({ id: row.id, leaseId: row.leaseId! })),
            at("10 seconds")
          )
        )
      )
      const ids = (rows: ReadonlyArray<{ readonly id: TaskId }>) => rows.map((row) => row.id)

      assert.deepStrictEqual(ids(yield* store.list({ limit: 10 })), [a, b, c, d])
      assert.deepStrictEqual(ids(yield* store.list({ limit: 10, queue: "email" })), [a, b, c])
      assert.deepStrictEqual(ids(yield* store.list({ limit: 10, name: "email.send" })), [a, b, d])
      assert.deepStrictEqual(ids(yield* store.list({ limit: 10, status: "succeeded" })), [b])
      assert.deepStrictEqual(ids(yield* store.list({ limit: 10, queue: "email", name: "email.send" })), [a, b])
      assert.deepStrictEqual(
        ids(yield* store.list({ limit: 10, queue: "email", name: "email.send", status: "running" })),
        [a]
      )
      assert.deepStrictEqual(ids(yield* store.list({ limit: 10, queue: "sms", status: "running" })), [])
      assert.deepStrictEqual(ids(yield* store.list({ limit: 2 })), [a, b])
      assert.deepStrictEqual(ids(yield* store.list({ limit: 2, newestFirst: true })), [d, c])
      assert.deepStrictEqual(ids(yield* store.list({ limit: 10, newestFirst: true })), [d, c, b, a])
    }).pipe(Effect.provide(TaskStore.layerMemory)))

  it.effect("list orders tasks created in the same instant by id, reversed for newest first", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore
      const results = yield* store.insert(
        Array.from({ length: 6 }, (_, i) => newTask({ name: `same.${i}`, now: at("5 seconds") }))
      )
      const byId = results.map((result) => result.id).sort()
      const listed = yield* store.list({ limit: 10 })
      assert.deepStrictEqual(listed.map((row) => row.id), byId)
      const newest = yield* store.list({ limit: 10, newestFirst: true })
      assert.deepStrictEqual(newest.map((row) => row.id), [...byId].reverse())
    }).pipe(Effect.provide(TaskStore.layerMemory)))

  it.effect("finished counts succeeded and dead tasks per queue and time bucket, from `since` on", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore
      for (const queue of ["sms", "email"]) {
        for (const name of ["ok.1", "ok.2", "bad"]) yield* insertOne(newTask({ name, queue }))
      }
      // An old success, before `since`; then successes and deaths in the first and third bucket.
      yield* insertOne(newTask({ name: "ok.old", queue: "email" }))
      yield* finishAll("email", at("1 minute"), () => "succeeded")
      yield* insertOne(newTask({ name: "ok.3", queue: "email", now: at("10 minutes"), runAt: at("10 minutes") }))
      yield* insertOne(newTask({ name: "bad", queue: "email", now: at("10 minutes"), runAt: at("10 minutes") }))
      yield* finishAll("email", at("12 minutes"), (name) => name === "bad" ? "dead" : "succeeded")
      yield* finishAll("sms", at("16 minutes"), (name) => name === "bad" ? "dead" : "succeeded")
      // Pending and running tasks are not finished.
      yield* insertOne(newTask({ name: "waiting", queue: "email", runAt: at("1 hour") }))
      yield* insertOne(newTask({ name: "running", queue: "email", now: at("12 minutes"), runAt: at("12 minutes") }))
      yield* store.claim("email", lease(at("13 minutes")), 100)

      const buckets = yield* store.finished(at("5 minutes"), 5)
      assert.deepStrictEqual(
        buckets.map((b) => ({
          queue: b.queue,
          start: DateTime.formatIso(b.start),
          succeeded: b.succeeded,
          dead: b.dead
        })),
        [
          { queue: "email", start: DateTime.formatIso(at("10 minutes")), succeeded: 1, dead: 1 },
          { queue: "sms", start: DateTime.formatIso(at("15 minutes")), succeeded: 2, dead: 1 }
        ]
      )
      const all = yield* store.finished(at(0), 5)
      assert.deepStrictEqual(
        all.map((b) => `${b.queue} ${DateTime.formatIso(b.start)} ${b.succeeded}/${b.dead}`),
        [
          `email ${DateTime.formatIso(at(0))} 4/0`,
          `email ${DateTime.formatIso(at("10 minutes"))} 1/1`,
          `sms ${DateTime.formatIso(at("15 minutes"))} 2/1`
        ]
      )
    }).pipe(Effect.provide(TaskStore.layerMemory)))

  it.effect("a task that finished exactly at `since` counts in the first bucket", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore
      yield* insertOne(newTask({ name: "edge" }))
      yield* finishAll("default", at("5 minutes"), () => "succeeded")
      const buckets = yield* store.finished(at("5 minutes"), 1)
      assert.deepStrictEqual(buckets.map((b) => [b.queue, b.succeeded, b.dead]), [["default", 1, 0]])
      assert.deepStrictEqual(yield* store.finished(at("5 minutes").pipe(DateTime.add({ millis: 1 })), 1), [])
    }).pipe(Effect.provide(TaskStore.layerMemory)))

  it.effect("depth counts ready, scheduled, running and dead tasks per queue, queues in name order", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore
      yield* insertOne(newTask({ name: "a", queue: "zeta" }))
      yield* insertOne(newTask({ name: "ready", queue: "alpha" }))
      yield* insertOne(newTask({ name: "ready", queue: "alpha" }))
      yield* insertOne(newTask({ name: "later", queue: "alpha", runAt: at("1 hour") }))
      yield* insertOne(newTask({ name: "done", queue: "mid" }))
      yield* insertOne(newTask({ name: "dead", queue: "mid" }))
      yield* finishAll("mid", at("1 second"), (name) => name === "dead" ? "dead" : "succeeded")
      yield* store.claim("zeta", lease(at("1 second")), 1)

      const depth = yield* store.depth(at("2 seconds"))
      assert.deepStrictEqual(depth.map((d) => ({ ...d })), [
        { queue: "alpha", ready: 2, scheduled: 1, running: 0, dead: 0 },
        { queue: "mid", ready: 0, scheduled: 0, running: 0, dead: 1 },
        { queue: "zeta", ready: 0, scheduled: 0, running: 1, dead: 0 }
      ])
      // The scheduled one becomes ready once its time has come.
      const later = yield* store.depth(at("1 hour"))
      assert.deepStrictEqual(later.map((d) => [d.queue, d.ready, d.scheduled]), [
        ["alpha", 3, 0],
        ["mid", 0, 0],
        ["zeta", 0, 0]
      ])
    }).pipe(Effect.provide(TaskStore.layerMemory)))

  it.effect("depth lists queues in name order whatever order their tasks were added in", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore
      for (const queue of ["c", "a", "d", "b"]) yield* insertOne(newTask({ name: "t", queue }))
      assert.deepStrictEqual((yield* store.depth(at(0))).map((d) => d.queue), ["a", "b", "c", "d"])
    }).pipe(Effect.provide(TaskStore.layerMemory)))

  it.effect("prune deletes only succeeded and dead tasks that finished before the cut-off", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore
      const old = yield* insertOne(newTask({ name: "old" }))
      const oldDead = yield* insertOne(newTask({ name: "old.dead" }))
      yield* finishAll("default", at("1 minute"), (name) => name === "old.dead" ? "dead" : "succeeded")
      const recent = yield* insertOne(newTask({ name: "recent", runAt: at("10 minutes") }))
      yield* finishAll("default", at("10 minutes"), () => "succeeded")
      const running = yield* insertOne(newTask({ name: "running", runAt: at("20 minutes") }))
      yield* store.claim("default", lease(at("20 minutes")), 1)
      const pending = yield* insertOne(newTask({ name: "pending", runAt: at("1 hour") }))

      assert.strictEqual(yield* store.prune(at("10 minutes")), 2)
      assert.isTrue(Option.isNone(yield* store.get(old)))
      assert.isTrue(Option.isNone(yield* store.get(oldDead)))
      for (const id of [recent, pending, running]) assert.isTrue(Option.isSome(yield* store.get(id)))
      // A task that finished exactly at the cut-off stays.
      assert.strictEqual(yield* store.prune(at("10 minutes")), 0)
      assert.strictEqual(yield* store.prune(at("11 minutes")), 1)
    }).pipe(Effect.provide(TaskStore.layerMemory)))
})
