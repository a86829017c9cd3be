import { EventId } from "@clinic/domain"
import { OutboxStore } from "@clinic/events"
import { Mailer } from "@clinic/mail"
import type { Registry } from "@clinic/queue"
import { TaskQueue, TaskStore, Worker } from "@clinic/queue"
import * as Repositories from "@clinic/repository/Repositories"
import { SchedulerEngine } from "@clinic/scheduler-engine"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Exit, Layer, Option, TestClock } from "effect"
import { maintenancePrune, TaskRegistry, WorkersLive } from "../src/Background.js"
import { EVENTS_PRUNE, TASK_BEAT } from "../src/Jobs.js"
import { configLayer, memoryApp } from "./layers.js"

const T0 = DateTime.unsafeMake("2026-03-02T09:00:00.000Z")

const registryFrom = (env: Record<string, string>) =>
  Effect.flip(Effect.provide(TaskRegistry, TaskRegistry.layer.pipe(Layer.provide(configLayer(env)))))

// The email tasks share the registry; these tests send no mail.
const noMail = Layer.succeed(Mailer, Mailer.of({ send: () => Effect.dieMessage("no mail in this test") }))

const outboxEvent = (at: DateTime.Utc) => ({
  id: EventId.make(crypto.randomUUID()),
  type: "auth_session.expired",
  payload: {},
  occurredAt: at
})

describe("scheduler background", () => {
  it.effect("a periodic entry naming an unknown task, a bad cron or a bad payload fails start-up, every problem listed", () =>
    Effect.gen(function*() {
      const error = yield* registryFrom({
        SCHEDULER_PERIODIC_TASKS: JSON.stringify([
          { name: "typo", task: "maintenance.prnue", every: "1 hour" },
          { name: "bad-cron", task: "maintenance.prune", cron: "61 * * * *" },
          { name: "both", task: "maintenance.prune", cron: "0 * * * *", every: "1 hour" }
        ])
      })
      assert.strictEqual(error._tag, "RegistryError")
      const problems = (error as Registry.RegistryError).problems
      assert.strictEqual(problems.length, 3)
      assert.match(problems[0], /periodic entry "typo" names task "maintenance.prnue", which is not defined/)
      assert.match(problems[1], /periodic entry "bad-cron" has an invalid cron/)
      assert.match(problems[2], /periodic entry "both" needs exactly one of cron or every/)
    }))

  it.effect("unreadable periodic config is a ConfigError naming the variable", () =>
    Effect.gen(function*() {
      const notJson = yield* registryFrom({ SCHEDULER_PERIODIC_TASKS: "[{" })
      assert.strictEqual(notJson._tag, "ConfigError")
      assert.include(String(notJson), "SCHEDULER_PERIODIC_TASKS")
      const badEvery = yield* registryFrom({
        SCHEDULER_PERIODIC_TASKS: JSON.stringify([{ name: "x", task: "maintenance.prune", every: "sometimes" }])
      })
      assert.include(String(badEvery), "\"sometimes\" is not a duration")
    }))

  it.scoped("SCHEDULER_QUEUES naming a queue that does not exist fails start-up", () =>
    Effect.gen(function*() {
      const exit = yield* Layer.build(
        WorkersLive.pipe(
          Layer.provideMerge(TaskRegistry.layer),
          Layer.provide(
            Layer.mergeAll(TaskStore.layerMemory, OutboxStore.layerMemory, Repositories.layerMemory, noMail)
          ),
          Layer.provide(configLayer({ SCHEDULER_QUEUES: "email,emails" }))
        )
      ).pipe(Effect.exit)
      assert.isTrue(Exit.isFailure(exit))
      assert.include(String(exit), "SCHEDULER_QUEUES names queue \\\"emails\\\"")
    }))

  it.scoped("maintenance prunes dispatched outbox rows and finished tasks past their retention only", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(T0.epochMillis)
      const outbox = yield* OutboxStore
      const tasks = yield* TaskStore
      const registry = yield* TaskRegistry
      // Day 0: an event relayed and a task finished; day 6: the same again, plus an event not yet relayed.
      const oldEvent = outboxEvent(T0)
      yield* outbox.insert(oldEvent)
      yield* outbox.dispatch(10, T0, () => Effect.void)
      const oldTask = yield* TaskQueue.enqueue(maintenancePrune, {}, { idempotencyKey: "old" })
      yield* Worker.drain(registry, "maintenance")
      yield* TestClock.adjust("6 days")
      const recentEvent = outboxEvent(yield* DateTime.now)
      yield* outbox.insert(recentEvent)
      yield* outbox.dispatch(10, yield* DateTime.now, () => Effect.void)
      const pending = outboxEvent(yield* DateTime.now)
      yield* outbox.insert(pending)

      // Day 7 and a minute: the retention (7 days) has passed for day 0's rows only.
      yield* TestClock.adjust("1 day")
      yield* TestClock.adjust("1 minute")
      const run = yield* TaskQueue.enqueue(maintenancePrune, {}, { idempotencyKey: "now" })
      const results = yield* Worker.drain(registry, "maintenance")
      assert.deepStrictEqual(results.map((r) => r.outcome), ["succeeded"])
      assert.isTrue(Option.isNone(yield* outbox.get(oldEvent.id)))
      assert.isTrue(Option.isSome(yield* outbox.get(recentEvent.id)))
      assert.isTrue(Option.isSome(yield* outbox.get(pending.id)))
      assert.isTrue(Option.isNone(yield* tasks.get(oldTask.id)))
      assert.isTrue(Option.isSome(yield* tasks.get(run.id)))
    }).pipe(Effect.provide(Layer.merge(memoryApp(), noMail))))

  it.scoped("the hourly job forgets processed-event records older than an hour", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(T0.epochMillis)
      const outbox = yield* OutboxStore
      const old = EventId.make(crypto.randomUUID())
      const recent = EventId.make(crypto.randomUUID())
      yield* outbox.markProcessed(old, "booking-emails", T0)
      yield* TestClock.adjust("50 minutes")
      yield* outbox.markProcessed(recent, "booking-emails", yield* DateTime.now)
      yield* TestClock.adjust("11 minutes")
      const run = yield* (yield* SchedulerEngine).runNow(EVENTS_PRUNE)
      assert.strictEqual(run.outcome, "succeeded")
      assert.deepStrictEqual(run.result, { deletedRecords: 1 })
      assert.isFalse(yield* outbox.isProcessed(old, "booking-emails"))
      assert.isTrue(yield* outbox.isProcessed(recent, "booking-emails"))
    }).pipe(Effect.provide(memoryApp())))

  it.scoped("the beat enqueues the latest periodic occurrence once, however often it ticks", () =>
    Effect.gen(function*() {
      // The default nightly maintenance is at 04:15 UTC; the scheduler starts at 09:00, after it,
      // and catches up on it (SCHEDULER_BEAT_CATCH_UP, one day).
      yield* TestClock.setTime(T0.epochMillis)
      const engine = yield* SchedulerEngine
      const store = yield* TaskStore
      const first = yield* engine.runNow(TASK_BEAT)
      assert.deepStrictEqual(first.result, {
        enqueued: [{ entry: "nightly-maintenance", at: "2026-03-02T04:15:00.000Z", inserted: true }]
      })
      // A manual run at the same instant is the same run: move on a minute, as the beat does.
      yield* TestClock.adjust("1 minute")
      assert.deepStrictEqual((yield* engine.runNow(TASK_BEAT)).result, { enqueued: [] })
      const queued = yield* store.list({ name: "maintenance.prune", limit: 10 })
      assert.strictEqual(queued.length, 1)
      assert.strictEqual(queued[0].idempotencyKey, "periodic:nightly-maintenance:2026-03-02T04:15:00.000Z")
      // The next night's occurrence comes with the first tick after it.
      yield* TestClock.adjust("20 hours")
      const next = yield* engine.runNow(TASK_BEAT)
      assert.deepStrictEqual(next.result, {
        enqueued: [{ entry: "nightly-maintenance", at: "2026-03-03T04:15:00.000Z", inserted: true }]
      })
    }).pipe(Effect.provide(memoryApp())))
})
