import type { User } from "@clinic/domain"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Duration, Effect, type Layer, Option, TestClock } from "effect"
import { BookingRepo } from "../src/BookingRepo.js"
import { PatientRepo } from "../src/PatientRepo.js"
import type { UserRepo } from "../src/UserRepo.js"
import { at, makeTherapist, startClock } from "./fixtures.js"

export type BookingLayer = Layer.Layer<BookingRepo | PatientRepo | UserRepo>

const HOLD = Duration.minutes(15)

export const bookingSetup = Effect.gen(function*() {
  yield* startClock
  const therapist = yield* makeTherapist()
  const patient = yield* Effect.flatMap(
    PatientRepo,
    (repo) => repo.insert({ therapistId: therapist.id, name: "Pat", email: null, phone: null, notes: null })
  )
  const book = (startHour: number, endHour: number, owner: User = therapist) =>
    Effect.gen(function*() {
      const now = yield* DateTime.now
      return yield* Effect.flatMap(BookingRepo, (repo) =>
        repo.insert({
          therapistId: owner.id,
          patientId: patient.id,
          startsAt: at(`${startHour} hours`),
          endsAt: at(`${endHour} hours`),
          holdExpiresAt: DateTime.addDuration(now, HOLD)
        }))
    })
  return { therapist, patient, book }
})

export const bookingRepoContract = (name: string, layer: BookingLayer) =>
  describe(`BookingRepo (${name})`, () => {
    it.effect("a new booking is pending with its hold; an overlapping one is refused", () =>
      Effect.gen(function*() {
        const { book } = yield* bookingSetup
        const repo = yield* BookingRepo
        const first = yield* book(24, 25)
        assert.strictEqual(first.status, "pending")
        assert.strictEqual(first.holdExpiresAt!.epochMillis, at("15 minutes").epochMillis)
        assert.strictEqual((yield* Effect.flip(book(24.5, 25.5)))._tag, "BookingOverlap")
        // Touching ends do not overlap.
        assert.strictEqual((yield* book(25, 26)).status, "pending")
        assert.strictEqual((yield* repo.list(first.therapistId, { limit: 10 })).length, 2)
      }).pipe(Effect.provide(layer)))

    it.effect("another therapist's bookings never conflict", () =>
      Effect.gen(function*() {
        const { book } = yield* bookingSetup
        const other = yield* makeTherapist("Other")
        yield* book(24, 25)
        assert.strictEqual((yield* book(24, 25, other)).status, "pending")
      }).pipe(Effect.provide(layer)))

    it.effect("a lapsed hold reads expired, never blocks, and cannot be confirmed", () =>
      Effect.gen(function*() {
        const { book } = yield* bookingSetup
        const repo = yield* BookingRepo
        const held = yield* book(24, 25)
        yield* TestClock.adjust("15 minutes")
        assert.strictEqual((yield* repo.findById(held.id)).status, "expired")
        const confirm = yield* repo.transition(held.id, { from: ["pending"], to: "confirmed" })
        assert.isTrue(Option.isNone(confirm))

        const replacement = yield* book(24, 25)
        assert.strictEqual(replacement.status, "pending")
        assert.strictEqual((yield* repo.findById(held.id)).status, "expired")
      }).pipe(Effect.provide(layer)))

    it.effect("confirm within the hold, then cancel; cancelled and expired bookings free the slot", () =>
      Effect.gen(function*() {
        const { book, therapist } = yield* bookingSetup
        const repo = yield* BookingRepo
        const held = yield* book(24, 25)
        yield* TestClock.adjust("14 minutes")
        const confirmed = Option.getOrThrow(yield* repo.transition(held.id, { from: ["pending"], to: "confirmed" }))
        assert.strictEqual(confirmed.status, "confirmed")
        yield* TestClock.adjust("1 hour")
        // A confirmed booking holds its slot forever, whatever its hold said.
        assert.strictEqual((yield* repo.findOwned(therapist.id, held.id)).status, "confirmed")
        assert.strictEqual((yield* Effect.flip(book(24, 25)))._tag, "BookingOverlap")
        const cancelled = yield* repo.transition(held.id, { from: ["pending", "confirmed"], to: "cancelled" })
        assert.strictEqual(Option.getOrThrow(cancelled).status, "cancelled")
        assert.strictEqual((yield* book(24, 25)).status, "pending")
      }).pipe(Effect.provide(layer)))

    it.effect("expires lapsed holds in batches, oldest first, and previews change nothing", () =>
      Effect.gen(function*() {
        const { book } = yield* bookingSetup
        const repo = yield* BookingRepo
        const a = yield* book(24, 25)
        yield* TestClock.adjust("1 minute")
        const b = yield* book(26, 27)
        yield* TestClock.adjust("1 minute")
        const c = yield* book(28, 29)
        yield* TestClock.adjust("16 minutes") // a and b lapsed at +15 and +16; c lapses at +17
        const now = yield* DateTime.now
        yield* TestClock.adjust("-0 millis")
        const keep = yield* book(30, 31)

        const preview = yield* repo.listLapsedHolds(now, 10)
        assert.deepStrictEqual(preview.map((x) => x.id), [a.id, b.id, c.id])
        assert.deepStrictEqual((yield* repo.listLapsedHolds(now, 10)).length, 3)

        const first = yield* repo.expireLapsedHolds(now, 2)
        assert.deepStrictEqual(first.map((x) => x.id), [a.id, b.id].sort())
        assert.deepStrictEqual(first.map((x) => x.status), ["expired", "expired"])
        assert.deepStrictEqual(first.map((x) => x.therapistId), [a.therapistId, b.therapistId])
        const second = yield* repo.expireLapsedHolds(now, 2)
        assert.deepStrictEqual(second.map((x) => x.id), [c.id])
        assert.deepStrictEqual(yield* repo.expireLapsedHolds(now, 2), [])
        assert.strictEqual((yield* repo.findById(keep.id)).status, "pending")
      }).pipe(Effect.provide(layer)))

    it.effect("lists by effective status, time window and keyset cursor", () =>
      Effect.gen(function*() {
        const { book, therapist } = yield* bookingSetup
        const repo = yield* BookingRepo
        const lapsed = yield* book(24, 25)
        yield* TestClock.adjust("20 minutes")
        const live = yield* Effect.forEach([26, 28, 30], (h) => book(h, h + 1))

        const pending = yield* repo.list(therapist.id, { status: "pending", limit: 10 })
        assert.deepStrictEqual(pending.map((x) => x.id), live.map((x) => x.id))
        const expired = yield* repo.list(therapist.id, { status: "expired", limit: 10 })
        assert.deepStrictEqual(expired.map((x) => [x.id, x.status]), [[lapsed.id, "expired"]])

        const window = yield* repo.list(therapist.id, { from: at("26 hours"), to: at("30 hours"), limit: 10 })
        assert.deepStrictEqual(window.map((x) => x.id), [live[0].id, live[1].id])

        const page1 = yield* repo.list(therapist.id, { limit: 2 })
        const cursor = { startsAt: page1[1].startsAt, id: page1[1].id }
        const page2 = yield* repo.list(therapist.id, { limit: 2, after: cursor })
        assert.deepStrictEqual([...page1, ...page2].map((x) => x.id), [lapsed.id, ...live.map((x) => x.id)])
      }).pipe(Effect.provide(layer)))
  })
