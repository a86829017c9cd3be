import { Email } from "@clinic/domain"
import { EventBus, OutboxStore } from "@clinic/events"
import { Registry, TaskQueue, TaskStore, Worker } from "@clinic/queue"
import { BookingRepo, PatientRepo, UserRepo } from "@clinic/repository"
import * as Repositories from "@clinic/repository/Repositories"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Layer, Option, Ref, TestClock } from "effect"
import * as BookingEmails from "../src/BookingEmails.js"
import { Mailer } from "../src/Mailer.js"
import { smtpSink } from "./SmtpSink.js"

const T0 = DateTime.unsafeMake("2026-03-02T09:00:00.000Z")

const stores = Layer.mergeAll(Repositories.layerMemory, OutboxStore.layerMemory, TaskStore.layerMemory)

/** A therapist, a patient with an address, and a booking two days out, confirmed. */
const confirmedBooking = (patientEmail: string | null = "pat@example.test") =>
  Effect.gen(function*() {
    const therapist = yield* Effect.flatMap(UserRepo, (repo) =>
      repo.insert({
        email: Email.make(`t.${crypto.randomUUID().slice(0, 8)}@clinic.test`),
        name: "Dr Test",
        role: "therapist",
        passwordHash: "scrypt$x"
      })).pipe(Effect.orDie)
    const patient = yield* Effect.flatMap(PatientRepo, (repo) =>
      repo.insert({ therapistId: therapist.id, name: "Pat", email: patientEmail, phone: null, notes: null }))
    const bookings = yield* BookingRepo
    const held = yield* bookings.insert({
      therapistId: therapist.id,
      patientId: patient.id,
      startsAt: DateTime.add(T0, { days: 2 }),
      endsAt: DateTime.add(T0, { days: 2, minutes: 50 }),
      holdExpiresAt: DateTime.add(T0, { minutes: 15 })
    }).pipe(Effect.orDie)
    const booking = Option.getOrThrow(yield* bookings.transition(held.id, { from: ["pending"], to: "confirmed" }))
    const eventId = yield* EventBus.publish({
      _tag: "booking.confirmed",
      bookingId: booking.id,
      therapistId: booking.therapistId,
      patientId: booking.patientId,
      startsAt: booking.startsAt,
      endsAt: booking.endsAt
    })
    return { booking, eventId }
  })

const setup = Effect.gen(function*() {
  yield* TestClock.setTime(DateTime.toEpochMillis(T0))
  const bus = yield* EventBus.make({ subscribers: [BookingEmails.bookingEmails] })
  const email = yield* Registry.make({ tasks: BookingEmails.tasks, queues: [{ name: "email", concurrency: 2 }] })
  /** What the scheduler's workers would do: relay, deliver, then run the mail tasks. */
  const settle = Effect.gen(function*() {
    yield* bus.dispatchOnce
    yield* Worker.drain(bus.registry, bus.queue)
    return yield* Worker.drain(email, "email")
  })
  return { bus, settle }
})

describe("booking emails", () => {
  it.scoped("a confirmed booking sends one confirmation, even when the event is delivered twice", () =>
    Effect.gen(function*() {
      const sink = yield* smtpSink
      yield* Effect.gen(function*() {
        const { bus, settle } = yield* setup
        const { eventId } = yield* confirmedBooking()
        yield* settle
        // A redelivery of the same event (crash, second replica) adds nothing.
        yield* TaskQueue.enqueue(EventBus.deliveryTask(BookingEmails.bookingEmails, bus.queue), { eventId })
        yield* settle
      }).pipe(Effect.provide(Layer.merge(stores, smtpLayer(sink.port))))
      const received = yield* Ref.get(sink.received)
      assert.strictEqual(received.length, 1)
      assert.deepStrictEqual(received[0].to, ["pat@example.test"])
      assert.include(received[0].raw, "Subject: Booking confirmed")
      assert.include(received[0].raw, "2026-03-04 09:00 UTC")
    }))

  it.scoped("the reminder goes out 24 hours before the session, and not for a booking cancelled since", () =>
    Effect.gen(function*() {
      const sink = yield* smtpSink
      yield* Effect.gen(function*() {
        const { settle } = yield* setup
        yield* confirmedBooking("kept@example.test")
        const { booking: cancelled } = yield* confirmedBooking("cancelled@example.test")
        yield* settle
        yield* Effect.flatMap(
          BookingRepo,
          (repo) => repo.transition(cancelled.id, { from: ["confirmed"], to: "cancelled" })
        )
        yield* TestClock.adjust("23 hours")
        yield* TestClock.adjust("59 minutes")
        assert.deepStrictEqual(yield* settle, [])
        yield* TestClock.adjust("1 minute")
        const reminders = yield* settle
        assert.deepStrictEqual(reminders.map((r) => `${r.name} ${r.outcome}`), [
          "email.booking-reminder succeeded",
          "email.booking-reminder succeeded"
        ])
      }).pipe(Effect.provide(Layer.merge(stores, smtpLayer(sink.port))))
      const subjects = (yield* Ref.get(sink.received)).map((m) => `${m.to[0]}: ${m.raw.match(/^Subject: (.*)$/m)![1]}`)
        .sort()
      assert.deepStrictEqual(subjects, [
        "cancelled@example.test: Booking confirmed",
        "kept@example.test: Booking confirmed",
        "kept@example.test: Reminder: your session tomorrow"
      ])
    }))

  it.scoped("an SMTP outage is retried until the message goes through", () =>
    Effect.gen(function*() {
      const sink = yield* smtpSink
      yield* Effect.gen(function*() {
        const { settle } = yield* setup
        yield* confirmedBooking()
        yield* Effect.gen(function*() {
          const results = yield* settle
          assert.deepStrictEqual(results.map((r) => r.outcome), ["retried"])
        }).pipe(Effect.provide(smtpLayer(1)))
        yield* TestClock.adjust("30 seconds")
        const retried = yield* settle
        assert.deepStrictEqual(retried.map((r) => r.outcome), ["succeeded"])
      }).pipe(Effect.provide(Layer.merge(stores, smtpLayer(sink.port))))
      assert.strictEqual((yield* Ref.get(sink.received)).length, 1)
    }))
})

const smtpLayer = (port: number) =>
  Mailer.layerSmtp({
    host: "127.0.0.1",
    port,
    secure: false,
    user: Option.none(),
    password: Option.none(),
    from: "Clinic <clinic@example.test>"
  })
