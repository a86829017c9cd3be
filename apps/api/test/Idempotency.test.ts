import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import {
  at,
  clientFor,
  makeTherapist,
  memoryServer,
  postBooking,
  startClock,
  therapistWithPatient
} from "./support/TestApi.js"

const slot = { startsAt: at("24 hours"), endsAt: at("25 hours") }

describe("Idempotency-Key on POST /bookings (memory)", () => {
  it.effect("a retry returns the first response, same status and body, and books once", () =>
    Effect.gen(function*() {
      yield* startClock
      const { client, patient, user } = yield* therapistWithPatient
      const body = { patientId: patient.id, startsAt: "2026-03-03T09:00:00Z", endsAt: "2026-03-03T10:00:00Z" }
      const first = yield* postBooking(user.id, "key-1", body)
      // Same instants written differently are the same request.
      const retry = yield* postBooking(user.id, "key-1", { ...body, startsAt: "2026-03-03T09:00:00.000Z" })
      assert.strictEqual(first.status, 201)
      assert.deepStrictEqual(retry, first)
      assert.strictEqual((yield* client.bookings.list({ urlParams: {} })).items.length, 1)
    }).pipe(Effect.provide(memoryServer())))

  it.effect("the same key with another body is a 422; keys are per user", () =>
    Effect.gen(function*() {
      yield* startClock
      const alice = yield* therapistWithPatient
      const bob = yield* therapistWithPatient
      yield* alice.client.bookings.create({
        headers: { "idempotency-key": "k" },
        payload: { patientId: alice.patient.id, ...slot }
      })
      const other = yield* Effect.flip(alice.client.bookings.create({
        headers: { "idempotency-key": "k" },
        payload: { patientId: alice.patient.id, startsAt: at("30 hours"), endsAt: at("31 hours") }
      }))
      assert.strictEqual(other._tag, "IdempotencyKeyReused")
      const bobs = yield* bob.client.bookings.create({
        headers: { "idempotency-key": "k" },
        payload: { patientId: bob.patient.id, ...slot }
      })
      assert.strictEqual(bobs.therapistId, bob.user.id)
    }).pipe(Effect.provide(memoryServer())))

  it.effect("a first 409 is replayed as 409 even after the slot frees up; a new key books it", () =>
    Effect.gen(function*() {
      yield* startClock
      const { client, patient, user } = yield* therapistWithPatient
      const blocker = yield* client.bookings.create({ headers: {}, payload: { patientId: patient.id, ...slot } })
      const body = { patientId: patient.id, startsAt: "2026-03-03T09:30:00Z", endsAt: "2026-03-03T10:30:00Z" }
      const first = yield* postBooking(user.id, "retry-me", body)
      assert.strictEqual(first.status, 409)
      assert.strictEqual(first.body._tag, "BookingOverlap")
      yield* client.bookings.cancel({ path: { id: blocker.id } })
      assert.deepStrictEqual(yield* postBooking(user.id, "retry-me", body), first)
      assert.strictEqual((yield* postBooking(user.id, "fresh", body)).status, 201)
    }).pipe(Effect.provide(memoryServer())))

  it.effect("concurrent requests with one key make one booking and all get it", () =>
    Effect.gen(function*() {
      yield* startClock
      const user = yield* makeTherapist()
      const client = yield* clientFor(user)
      const patient = yield* client.patients.create({ payload: { name: "P" } })
      const results = yield* Effect.all(
        Array.from({ length: 8 }, () =>
          client.bookings.create({
            headers: { "idempotency-key": "burst" },
            payload: { patientId: patient.id, ...slot }
          })),
        { concurrency: "unbounded" }
      )
      assert.strictEqual(
        new Set(results.map((b) => b.id)).size,
        1
      )
      assert.strictEqual((yield* client.bookings.list({ urlParams: {} })).items.length, 1)
    }).pipe(Effect.provide(memoryServer())))
})
