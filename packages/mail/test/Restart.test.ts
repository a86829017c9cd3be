import { Email } from "@clinic/domain"
import { EventBus, OutboxStore } from "@clinic/events"
import { Registry, TaskStore, Worker } from "@clinic/queue"
import { BookingRepo, PatientRepo, UserRepo } from "@clinic/repository"
import * as Repositories from "@clinic/repository/Repositories"
import * as TestDatabase from "@clinic/repository/testing/TestDatabase"
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Exit, Layer, Option, Ref, Scope } from "effect"
import * as BookingEmails from "../src/BookingEmails.js"
import { eventually, startClock, T0 } from "./fixtures.js"
import { smtpMailer, smtpSink } from "./SmtpSink.js"

const stores = Layer.mergeAll(Repositories.layerPg, OutboxStore.layerPg, TaskStore.layerPg).pipe(
  Layer.provideMerge(TestDatabase.layer)
)

describe("booking confirmation email on Postgres", () => {
  it.scoped("is sent exactly once when the scheduler restarts while the email task is queued", () =>
    Effect.gen(function*() {
      yield* startClock
      const sink = yield* smtpSink
      const mailer = smtpMailer(sink)
      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const therapist = yield* Effect.flatMap(
          UserRepo,
          (repo) =>
            repo.insert({ email: Email.make("dr@clinic.test"), name: "Dr", role: "therapist", passwordHash: "x" })
        )
          .pipe(Effect.orDie)
        const patient = yield* Effect.flatMap(
          PatientRepo,
          (repo) =>
            repo.insert({ therapistId: therapist.id, name: "Pat", email: "pat@example.test", phone: null, notes: null })
        )
        const held = yield* Effect.flatMap(BookingRepo, (repo) =>
          repo.insert({
            therapistId: therapist.id,
            patientId: patient.id,
            startsAt: DateTime.add(T0, { days: 2 }),
            endsAt: DateTime.add(T0, { days: 2, minutes: 50 }),
            holdExpiresAt: DateTime.add(T0, { minutes: 15 })
          })).pipe(Effect.orDie)
        // What the API does: the transition and its event commit together.
        yield* Effect.gen(function*() {
          const confirmed = Option.getOrThrow(
            yield* Effect.flatMap(
              BookingRepo,
              (repo) => repo.transition(held.id, { from: ["pending"], to: "confirmed" })
            )
          )
          yield* EventBus.publish({
            _tag: "booking.confirmed",
            bookingId: confirmed.id,
            therapistId: confirmed.therapistId,
            patientId: confirmed.patientId,
            startsAt: confirmed.startsAt,
            endsAt: confirmed.endsAt
          })
        }).pipe(sql.withTransaction, Effect.orDie)

        const emailRegistry = yield* Registry.make({
          tasks: BookingEmails.tasks,
          queues: [{ name: "email", concurrency: 2 }]
        })
        const scheduler = (withEmailWorker: boolean) =>
          Effect.gen(function*() {
            const scope = yield* Scope.make()
            const bus = yield* EventBus.make({ subscribers: [BookingEmails.bookingEmails] }).pipe(Scope.extend(scope))
            yield* bus.start
            if (withEmailWorker) yield* Worker.make(emailRegistry, { queues: ["email"] }).pipe(Scope.extend(scope))
            return { scope, bus }
          })

        // The first scheduler relays the event and queues the email, then goes down before sending it.
        const first = yield* scheduler(false)
        const store = yield* TaskStore
        yield* eventually(
          Effect.map(store.list({ queue: "email", name: "email.send", limit: 10 }), (t) => t.length === 1)
        )
        yield* Scope.close(first.scope, Exit.void)
        assert.deepStrictEqual(yield* Ref.get(sink.received), [])

        // The restarted scheduler finds the queued task and sends it; nothing is relayed twice.
        const second = yield* scheduler(true)
        yield* eventually(Effect.map(Ref.get(sink.received), (r) => r.length === 1))
        const [sent] = yield* store.list({ queue: "email", name: "email.send", limit: 10 })
        yield* eventually(Effect.map(store.get(sent.id), (t) => Option.exists(t, (row) => row.status === "succeeded")))
        assert.strictEqual((yield* second.bus.status).dispatched, 0)
        yield* Scope.close(second.scope, Exit.void)
      }).pipe(Effect.provide(Layer.merge(stores, mailer)))
      const received = yield* Ref.get(sink.received)
      assert.strictEqual(received.length, 1)
      assert.include(received[0].raw, "Subject: Booking confirmed")
    }))
})
