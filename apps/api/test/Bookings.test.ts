import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, TestClock } from "effect"
import { at, clientFor, makeTherapist, memoryServer, startClock, therapistWithPatient } from "./support/TestApi.js"

const slot = (fromMinutes: number, toMinutes: number) => ({
  startsAt: at(Duration.minutes(24 * 60 + fromMinutes)),
  endsAt: at(Duration.minutes(24 * 60 + toMinutes))
})

describe("bookings over HTTP (memory, TestClock)", () => {
  it.effect("a new booking is pending with a 15 minute hold; confirming at 14:59 works", () =>
    Effect.gen(function*() {
      yield* startClock
      const { client, patient, user } = yield* therapistWithPatient
      const booking = yield* client.bookings.create({ headers: {}, payload: { patientId: patient.id, ...slot(0, 50) } })
      assert.strictEqual(booking.status, "pending")
      assert.strictEqual(booking.therapistId, user.id)
      assert.deepStrictEqual(booking.holdExpiresAt, at("15 minutes"))
      yield* TestClock.adjust(Duration.seconds(14 * 60 + 59))
      const confirmed = yield* client.bookings.confirm({ path: { id: booking.id } })
      assert.strictEqual(confirmed.status, "confirmed")
      // Confirmed bookings stay confirmed after the hold would have ended.
      yield* TestClock.adjust("1 hour")
      assert.strictEqual((yield* client.bookings.get({ path: { id: booking.id } })).status, "confirmed")
    }).pipe(Effect.provide(memoryServer())))

  it.effect("confirming at exactly 15:00 is a 409 HoldExpired that says when the hold ended", () =>
    Effect.gen(function*() {
      yield* startClock
      const { client, patient } = yield* therapistWithPatient
      const booking = yield* client.bookings.create({ headers: {}, payload: { patientId: patient.id, ...slot(0, 50) } })
      yield* TestClock.adjust("15 minutes")
      const error = yield* Effect.flip(client.bookings.confirm({ path: { id: booking.id } }))
      assert.strictEqual(error._tag, "HoldExpired")
      if (error._tag !== "HoldExpired") return
      assert.deepStrictEqual(error.holdExpiredAt, at("15 minutes"))
      assert.match(error.message, /hold on this booking ended at 2026-03-02T09:15:00.000Z/)
      assert.strictEqual((yield* client.bookings.get({ path: { id: booking.id } })).status, "expired")
    }).pipe(Effect.provide(memoryServer())))

  it.effect("the hold length comes from config", () =>
    Effect.gen(function*() {
      yield* startClock
      const { client, patient } = yield* therapistWithPatient
      const booking = yield* client.bookings.create({ headers: {}, payload: { patientId: patient.id, ...slot(0, 50) } })
      assert.deepStrictEqual(booking.holdExpiresAt, at("5 seconds"))
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual(
        (yield* Effect.flip(client.bookings.confirm({ path: { id: booking.id } })))._tag,
        "HoldExpired"
      )
    }).pipe(Effect.provide(memoryServer({ settings: { BOOKING_HOLD: "5 seconds" } }))))

  it.effect("an overlapping booking is a 409 while the hold lasts; a lapsed hold frees the slot", () =>
    Effect.gen(function*() {
      yield* startClock
      const { client, patient } = yield* therapistWithPatient
      const first = yield* client.bookings.create({ headers: {}, payload: { patientId: patient.id, ...slot(0, 50) } })
      const overlap = yield* Effect.flip(
        client.bookings.create({ headers: {}, payload: { patientId: patient.id, ...slot(30, 80) } })
      )
      assert.strictEqual(overlap._tag, "BookingOverlap")
      // Back to back is no overlap: ranges are half-open.
      const adjacent = yield* client.bookings.create({
        headers: {},
        payload: { patientId: patient.id, ...slot(50, 100) }
      })
      assert.strictEqual(adjacent.status, "pending")
      yield* TestClock.adjust("15 minutes")
      const second = yield* client.bookings.create({ headers: {}, payload: { patientId: patient.id, ...slot(30, 50) } })
      assert.strictEqual(second.status, "pending")
      assert.strictEqual((yield* client.bookings.get({ path: { id: first.id } })).status, "expired")
    }).pipe(Effect.provide(memoryServer())))

  it.effect("a confirmed booking keeps blocking; cancelling frees the slot; cancelling twice is 409", () =>
    Effect.gen(function*() {
      yield* startClock
      const { client, patient } = yield* therapistWithPatient
      const booking = yield* client.bookings.create({ headers: {}, payload: { patientId: patient.id, ...slot(0, 50) } })
      yield* client.bookings.confirm({ path: { id: booking.id } })
      yield* TestClock.adjust("1 hour")
      const blocked = yield* Effect.flip(
        client.bookings.create({ headers: {}, payload: { patientId: patient.id, ...slot(10, 20) } })
      )
      assert.strictEqual(blocked._tag, "BookingOverlap")
      const cancelled = yield* client.bookings.cancel({ path: { id: booking.id } })
      assert.strictEqual(cancelled.status, "cancelled")
      const again = yield* Effect.flip(client.bookings.cancel({ path: { id: booking.id } }))
      assert.strictEqual(again._tag, "InvalidTransition")
      if (again._tag === "InvalidTransition") assert.deepStrictEqual([again.from, again.to], ["cancelled", "cancelled"])
      const confirmCancelled = yield* Effect.flip(client.bookings.confirm({ path: { id: booking.id } }))
      assert.strictEqual(confirmCancelled._tag, "InvalidTransition")
      yield* client.bookings.create({ headers: {}, payload: { patientId: patient.id, ...slot(10, 20) } })
    }).pipe(Effect.provide(memoryServer())))

  it.effect("confirming twice is an InvalidTransition from confirmed; an expired hold cannot be cancelled", () =>
    Effect.gen(function*() {
      yield* startClock
      const { client, patient } = yield* therapistWithPatient
      const booking = yield* client.bookings.create({ headers: {}, payload: { patientId: patient.id, ...slot(0, 50) } })
      yield* client.bookings.confirm({ path: { id: booking.id } })
      const twice = yield* Effect.flip(client.bookings.confirm({ path: { id: booking.id } }))
      assert.strictEqual(twice._tag, "InvalidTransition")
      if (twice._tag === "InvalidTransition") assert.strictEqual(twice.from, "confirmed")
      const lapsed = yield* client.bookings.create({ headers: {}, payload: { patientId: patient.id, ...slot(60, 90) } })
      yield* TestClock.adjust("16 minutes")
      const cancel = yield* Effect.flip(client.bookings.cancel({ path: { id: lapsed.id } }))
      assert.strictEqual(cancel._tag, "InvalidTransition")
      if (cancel._tag === "InvalidTransition") assert.strictEqual(cancel.from, "expired")
    }).pipe(Effect.provide(memoryServer())))

  it.effect("another therapist's booking and patient are 404; overlaps are per therapist", () =>
    Effect.gen(function*() {
      yield* startClock
      const alice = yield* therapistWithPatient
      const bob = yield* therapistWithPatient
      const booking = yield* alice.client.bookings.create({
        headers: {},
        payload: { patientId: alice.patient.id, ...slot(0, 50) }
      })
      for (
        const attempt of [
          bob.client.bookings.get({ path: { id: booking.id } }),
          bob.client.bookings.confirm({ path: { id: booking.id } }),
          bob.client.bookings.cancel({ path: { id: booking.id } })
        ]
      ) {
        const error = yield* Effect.flip(attempt)
        assert.strictEqual(error._tag, "NotFound")
      }
      const foreignPatient = yield* Effect.flip(
        bob.client.bookings.create({ headers: {}, payload: { patientId: alice.patient.id, ...slot(0, 50) } })
      )
      assert.strictEqual(foreignPatient._tag, "NotFound")
      if (foreignPatient._tag === "NotFound") assert.strictEqual(foreignPatient.resource, "Patient")
      // Bob's own booking at the same time is fine: the rule is per therapist.
      yield* bob.client.bookings.create({ headers: {}, payload: { patientId: bob.patient.id, ...slot(0, 50) } })
      assert.strictEqual((yield* alice.client.bookings.get({ path: { id: booking.id } })).status, "pending")
    }).pipe(Effect.provide(memoryServer())))

  it.effect("lists filter by effective status and time, page with an opaque cursor", () =>
    Effect.gen(function*() {
      yield* startClock
      const { client, patient } = yield* therapistWithPatient
      const made = []
      for (let i = 0; i < 5; i++) {
        made.push(
          yield* client.bookings.create({
            headers: {},
            payload: { patientId: patient.id, ...slot(i * 60, i * 60 + 30) }
          })
        )
      }
      yield* client.bookings.confirm({ path: { id: made[1].id } })
      yield* TestClock.adjust("20 minutes")
      const late = yield* client.bookings.create({ headers: {}, payload: { patientId: patient.id, ...slot(600, 630) } })

      const first = yield* client.bookings.list({ urlParams: { limit: 2 } })
      assert.deepStrictEqual(first.items.map((b) => b.id), [made[0].id, made[1].id])
      assert.isNotNull(first.nextCursor)
      const second = yield* client.bookings.list({ urlParams: { limit: 2, cursor: first.nextCursor! } })
      assert.deepStrictEqual(second.items.map((b) => b.id), [made[2].id, made[3].id])
      const third = yield* client.bookings.list({ urlParams: { limit: 2, cursor: second.nextCursor! } })
      assert.deepStrictEqual(third.items.map((b) => b.id), [made[4].id, late.id])
      assert.isNull(third.nextCursor)

      const all = yield* client.bookings.list({ urlParams: {} })
      assert.strictEqual(all.items.length, 6)
      assert.isNull(all.nextCursor)
      const expired = yield* client.bookings.list({ urlParams: { status: "expired" } })
      assert.deepStrictEqual(expired.items.map((b) => b.id), [made[0].id, made[2].id, made[3].id, made[4].id])
      const pending = yield* client.bookings.list({ urlParams: { status: "pending" } })
      assert.deepStrictEqual(pending.items.map((b) => b.id), [late.id])
      const window = yield* client.bookings.list({
        urlParams: { from: at("25 hours"), to: at("27 hours") }
      })
      assert.deepStrictEqual(window.items.map((b) => b.id), [made[1].id, made[2].id])
    }).pipe(Effect.provide(memoryServer())))

  it.effect("a user's list never shows another therapist's bookings", () =>
    Effect.gen(function*() {
      yield* startClock
      const alice = yield* therapistWithPatient
      const bob = yield* makeTherapist()
      yield* alice.client.bookings.create({ headers: {}, payload: { patientId: alice.patient.id, ...slot(0, 50) } })
      const bobClient = yield* clientFor(bob)
      assert.deepStrictEqual((yield* bobClient.bookings.list({ urlParams: {} })).items, [])
    }).pipe(Effect.provide(memoryServer())))
})
