import { ExternalCalendarSync } from "@clinic/calendar"
import { EventId } from "@clinic/domain"
import { OutboxStore } from "@clinic/events"
import { Mailer } from "@clinic/mail"
import { TaskQueue, TaskStore, Worker } from "@clinic/queue"
import * as Repositories from "@clinic/repository/Repositories"
import { SchedulerEngine } from "@clinic/scheduler-engine"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Exit, Layer, Option, TestClock } from "effect"
import { maintenancePrune, TaskRegistry, WorkersLive } from "../src/Background.js"
import { EVENTS_PRUNE } from "../src/Jobs.js"
import { configLayer, memoryApp } from "./layers.js"

const T0 = DateTime.unsafeMake("2026-03-02T09:00:00.000Z")

// The email tasks share the registry; these tests send no mail.
const noMail = Layer.succeed(Mailer, Mailer.of({ send: () => Effect.dieMessage("no mail in this test") }))

const outboxEvent = (at: DateTime.Utc) => ({
  id: EventId.make(crypto.randomUUID()),
  type: "auth_session.expired",
  payload: {},
  occurredAt: at,
  traceParent: null
})

describe("scheduler background", () => {
  it.scoped("SCHEDULER_QUEUES naming a queue that does not exist fails start-up", () =>
    Effect.gen(function*() {
      const exit = yield* Layer.build(
        WorkersLive.pipe(
          Layer.provideMerge(TaskRegistry.layer),
          Layer.provide(
            Layer.mergeAll(TaskStore.layerMemory, OutboxStore.layerMemory, noMail, ExternalCalendarSync.layer).pipe(
              Layer.provideMerge(Repositories.layerMemory)
            )
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
})
