import { OutboxStore } from "@clinic/events"
import { drainOutbox } from "@clinic/events/testing/Outbox"
import { TaskStore } from "@clinic/queue"
import { IdempotencyRepo, layerPg as RepositoriesPg } from "@clinic/repository"
import * as TestDatabase from "@clinic/repository/testing/TestDatabase"
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Array, DateTime, Duration, Effect, Layer } from "effect"
import { Recordings } from "../src/Recordings.js"
import {
  at,
  memoryServer,
  postBooking,
  postgresServer,
  serve,
  startClock,
  therapistWithPatient
} from "./support/TestApi.js"

const iso = (hours: number) => DateTime.formatIso(at(Duration.minutes(hours * 60)))

const published = drainOutbox

/** The Postgres outbox, except that `booking.confirmed` cannot be written (a lost connection, say). */
const confirmationsFail = Layer.effect(
  OutboxStore,
  Effect.map(OutboxStore, (store) =>
    OutboxStore.of({
      ...store,
      insert: (event) =>
        event.type === "booking.confirmed" ? Effect.dieMessage("outbox unavailable") : store.insert(event)
    }))
).pipe(Layer.provide(OutboxStore.layerPg))

describe.each(
  [
    ["memory", memoryServer],
    ["postgres", postgresServer]
  ] as const
)("booking events (%s)", (_name, server) => {
  it.effect("create and confirm publish booking.created and booking.confirmed; refused changes publish nothing", () =>
    Effect.gen(function*() {
      yield* startClock
      const { client, patient, user } = yield* therapistWithPatient
      const body = { patientId: patient.id, startsAt: iso(24), endsAt: iso(25) }
      const created = yield* postBooking(user.id, "k1", body)
      assert.strictEqual(created.status, 201)
      // A retry with the same key replays the answer and publishes nothing new.
      assert.strictEqual((yield* postBooking(user.id, "k1", body)).status, 201)
      // An overlap is refused: no booking, no event.
      assert.strictEqual((yield* postBooking(user.id, undefined, body)).status, 409)
      const [event] = yield* published
      assert.deepStrictEqual(event as unknown, {
        _tag: "booking.created",
        bookingId: created.body.id,
        therapistId: user.id,
        patientId: patient.id,
        startsAt: iso(24),
        endsAt: iso(25),
        holdExpiresAt: iso(0.25)
      })

      yield* client.bookings.confirm({ path: { id: created.body.id } })
      const again = yield* Effect.flip(client.bookings.confirm({ path: { id: created.body.id } }))
      assert.strictEqual(again._tag, "InvalidTransition")
      const confirmed = yield* published
      assert.deepStrictEqual(confirmed.map((e) => e._tag), ["booking.confirmed"])
      assert.strictEqual((confirmed[0] as { bookingId: string }).bookingId, created.body.id)
    }).pipe(Effect.provide(server())))
})

describe("booking events on Postgres", () => {
  it.effect("concurrent overlapping creates: the one booking that commits is the one event", () =>
    Effect.gen(function*() {
      yield* startClock
      const { patient, user } = yield* therapistWithPatient
      const responses = yield* Effect.all(
        Array.makeBy(8, (i) =>
          postBooking(user.id, undefined, {
            patientId: patient.id,
            startsAt: iso(24 + i * 0.05),
            endsAt: iso(25 + i * 0.05)
          })),
        { concurrency: "unbounded" }
      )
      const winner = responses.filter((r) => r.status === 201)
      assert.strictEqual(winner.length, 1)
      const events = yield* published
      assert.deepStrictEqual(events.map((e) => (e as { bookingId: string }).bookingId), [winner[0].body.id])
    }).pipe(Effect.provide(postgresServer())))

  it.effect("an event that cannot be written takes its change with it: the confirmation rolls back", () =>
    Effect.gen(function*() {
      yield* startClock
      const { client, patient, user } = yield* therapistWithPatient
      const created = yield* postBooking(user.id, undefined, {
        patientId: patient.id,
        startsAt: iso(24),
        endsAt: iso(25)
      })
      assert.strictEqual(created.status, 201)
      const response = yield* HttpClient.execute(
        HttpClientRequest.post(`/bookings/${created.body.id}/confirm`).pipe(HttpClientRequest.bearerToken(user.id))
      )
      assert.strictEqual(response.status, 500)
      assert.strictEqual((yield* client.bookings.get({ path: { id: created.body.id } })).status, "pending")
      assert.deepStrictEqual((yield* published).map((e) => e._tag), ["booking.created"])
    }).pipe(Effect.provide(
      serve(
        Layer.mergeAll(RepositoriesPg, IdempotencyRepo.layerPg, confirmationsFail, TaskStore.layerPg).pipe(
          Layer.provideMerge(TestDatabase.layer)
        ),
        Recordings
      )
    )))
})
