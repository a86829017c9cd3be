import { ExternalCalendarSync } from "@clinic/calendar"
import { EventBus, OutboxStore } from "@clinic/events"
import { BookingEmails, type Email, Mailer } from "@clinic/mail"
import { TaskStore, Worker } from "@clinic/queue"
import { IdempotencyRepo } from "@clinic/repository"
import * as Repositories from "@clinic/repository/Repositories"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Layer, Ref, TestClock } from "effect"
import { TaskRegistry } from "../src/Background.js"
import { apiServer, bookAndConfirm } from "./clinicApi.js"
import { configLayer } from "./layers.js"

const T0 = DateTime.unsafeMake("2026-03-02T09:00:00.000Z")

// The memory repositories bring the memory SqlClient: the API's transactions are the identity.
// The calendar queue's handler (in the same registry) needs the feed sync; nothing here calls it.
const stores = Layer.mergeAll(
  IdempotencyRepo.layerMemory,
  OutboxStore.layerMemory,
  TaskStore.layerMemory,
  ExternalCalendarSync.layer
).pipe(Layer.provideMerge(Repositories.layerMemory))

/** The API and the scheduler's task registry over one set of in-memory stores. */
const app = Layer.mergeAll(apiServer, TaskRegistry.layer).pipe(
  Layer.provideMerge(stores),
  Layer.provideMerge(configLayer())
)

describe("booking reminder (memory, TestClock)", () => {
  it.scoped("a confirmed booking gets its confirmation now and a reminder exactly 24 hours before it starts", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(T0.epochMillis)
      const sent = yield* Ref.make<ReadonlyArray<Email>>([])
      const mailer = Mailer.of({
        send: (email) =>
          Effect.as(Ref.update(sent, (all) => [...all, email]), { messageId: "<test>", destination: "memory" })
      })
      const registry = yield* TaskRegistry
      // The bus as the scheduler configures it, stopped: each step below is one relay or one drain.
      const bus = yield* EventBus.make({ subscribers: [BookingEmails.bookingEmails] })
      const work = Effect.gen(function*() {
        yield* bus.dispatchOnce
        yield* Worker.drain(bus.registry, bus.queue)
        return yield* Worker.drain(registry, BookingEmails.EMAIL_QUEUE)
      }).pipe(Effect.provideService(Mailer, mailer))
      const subjects = Effect.map(Ref.get(sent), (all) => all.map((e) => e.subject))

      const startsAt = DateTime.add(T0, { days: 3, hours: 1 })
      const confirmed = yield* bookAndConfirm(startsAt)
      assert.strictEqual(confirmed.status, "confirmed")
      yield* work
      assert.deepStrictEqual(yield* subjects, ["Booking confirmed"])

      // A minute before the reminder is due nothing goes out.
      const remindAt = DateTime.subtract(startsAt, { hours: 24 })
      yield* TestClock.setTime(DateTime.subtract(remindAt, { minutes: 1 }).epochMillis)
      assert.deepStrictEqual(yield* work, [])
      assert.deepStrictEqual(yield* subjects, ["Booking confirmed"])

      yield* TestClock.adjust("1 minute")
      const ran = yield* work
      assert.deepStrictEqual(ran.map((r) => `${r.name} ${r.outcome}`), ["email.booking-reminder succeeded"])
      const all = yield* Ref.get(sent)
      assert.deepStrictEqual(all.map((e) => e.subject), ["Booking confirmed", "Reminder: your session tomorrow"])
      assert.strictEqual(all[1].to, "pat@example.test")
      assert.include(all[1].text, "2026-03-05 10:00 UTC")

      // Later ticks send nothing more.
      yield* TestClock.adjust("2 days")
      assert.deepStrictEqual(yield* work, [])
      assert.strictEqual((yield* Ref.get(sent)).length, 2)
    }).pipe(Effect.provide(app)))
})
