import type { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect, type Layer, Option, TestClock } from "effect"
import type { BookingRepo } from "../src/BookingRepo.js"
import { CalendarFeedRepo } from "../src/CalendarFeedRepo.js"
import { ExternalCalendarRepo } from "../src/ExternalCalendarRepo.js"
import type { PatientRepo } from "../src/PatientRepo.js"
import type { UserRepo } from "../src/UserRepo.js"
import { bookingSetup } from "./BookingRepoContract.js"
import { at, makeTherapist, startClock, transactions } from "./fixtures.js"

export type CalendarLayer = Layer.Layer<
  CalendarFeedRepo | ExternalCalendarRepo | BookingRepo | PatientRepo | UserRepo | SqlClient.SqlClient
>

/** The repository with `add` and `replaceBusy` in their own transaction each, as their services call them. */
const externalCalendars = Effect.gen(function*() {
  const base = yield* ExternalCalendarRepo
  const transaction = yield* transactions
  return ExternalCalendarRepo.of({
    ...base,
    add: (calendar, max) => transaction(base.add(calendar, max)),
    replaceBusy: (id, intervals) => transaction(base.replaceBusy(id, intervals))
  })
})

const hours = (from: number, to: number) => ({ startsAt: at(`${from} hours`), endsAt: at(`${to} hours`) })

export const calendarRepoContract = (name: string, layer: CalendarLayer) =>
  describe(`calendar repositories (${name})`, () => {
    it.effect("a feed token digest opens one therapist's feed; a new token revokes the old one", () =>
      Effect.gen(function*() {
        yield* startClock
        const repo = yield* CalendarFeedRepo
        const alice = yield* makeTherapist()
        const bob = yield* makeTherapist()
        const made = yield* repo.replace(alice.id, "digest-a1")
        assert.deepStrictEqual(made.createdAt, at(0))
        yield* repo.replace(bob.id, "digest-b1")
        assert.deepStrictEqual(yield* repo.findTherapist("digest-a1"), Option.some(alice.id))
        assert.deepStrictEqual(yield* repo.findTherapist("digest-b1"), Option.some(bob.id))
        assert.isTrue(Option.isNone(yield* repo.findTherapist("unknown")))

        yield* repo.replace(alice.id, "digest-a2")
        assert.isTrue(Option.isNone(yield* repo.findTherapist("digest-a1")))
        assert.deepStrictEqual(yield* repo.findTherapist("digest-a2"), Option.some(alice.id))

        assert.isTrue(yield* repo.revoke(alice.id))
        assert.isFalse(yield* repo.revoke(alice.id))
        assert.isTrue(Option.isNone(yield* repo.findTherapist("digest-a2")))
        assert.deepStrictEqual(yield* repo.findTherapist("digest-b1"), Option.some(bob.id))
      }).pipe(Effect.provide(layer)))

    it.effect("external calendars: add once per URL, at most max, listed per owner, removed by the owner only", () =>
      Effect.gen(function*() {
        yield* startClock
        const repo = yield* externalCalendars
        const alice = yield* makeTherapist()
        const bob = yield* makeTherapist()
        const first = yield* repo.add({ therapistId: alice.id, url: "https://a.test/1.ics", label: "Work" }, 2)
        assert.strictEqual(first.label, "Work")
        assert.isNull(first.lastSyncedAt)
        const duplicate = yield* Effect.flip(
          repo.add({ therapistId: alice.id, url: "https://a.test/1.ics", label: null }, 2)
        )
        assert.strictEqual(duplicate._tag, "ExternalCalendarExists")
        if (duplicate._tag === "ExternalCalendarExists") assert.strictEqual(duplicate.calendarId, first.id)
        yield* TestClock.adjust("1 second")
        const second = yield* repo.add({ therapistId: alice.id, url: "https://a.test/2.ics", label: null }, 2)
        const third = yield* Effect.flip(
          repo.add({ therapistId: alice.id, url: "https://a.test/3.ics", label: null }, 2)
        )
        assert.strictEqual(third._tag, "TooManyExternalCalendars")
        // Another therapist may register the same URL.
        const bobs = yield* repo.add({ therapistId: bob.id, url: "https://a.test/1.ics", label: null }, 2)

        assert.deepStrictEqual((yield* repo.list(alice.id)).map((c) => c.id), [first.id, second.id])
        assert.deepStrictEqual((yield* repo.list(bob.id)).map((c) => c.id), [bobs.id])
        assert.strictEqual((yield* repo.listAll).length, 3)

        assert.strictEqual((yield* Effect.flip(repo.remove(bob.id, first.id)))._tag, "NotFound")
        yield* repo.remove(alice.id, first.id)
        assert.deepStrictEqual((yield* repo.list(alice.id)).map((c) => c.id), [second.id])
        assert.strictEqual((yield* Effect.flip(repo.remove(alice.id, first.id)))._tag, "NotFound")
      }).pipe(Effect.provide(layer)))

    it.effect("concurrent adds never exceed the limit", () =>
      Effect.gen(function*() {
        yield* startClock
        const repo = yield* externalCalendars
        const alice = yield* makeTherapist()
        const results = yield* Effect.all(
          Array.from({ length: 8 }, (_, i) =>
            Effect.either(repo.add({ therapistId: alice.id, url: `https://a.test/${i}.ics`, label: null }, 3))),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(
          results.filter((r) =>
            r._tag === "Right"
          ).length,
          3
        )
        assert.strictEqual((yield* repo.list(alice.id)).length, 3)
      }).pipe(Effect.provide(layer)))

    it.effect("an import replaces the previous one whole; a failure is recorded and keeps it", () =>
      Effect.gen(function*() {
        yield* startClock
        const repo = yield* externalCalendars
        const alice = yield* makeTherapist()
        const calendar = yield* repo.add({ therapistId: alice.id, url: "https://a.test/x.ics", label: null }, 5)
        assert.isTrue(yield* repo.replaceBusy(calendar.id, [hours(3, 4), hours(1, 2)]))
        assert.deepStrictEqual(yield* repo.busy(calendar.id), [hours(1, 2), hours(3, 4)])

        yield* TestClock.adjust("15 minutes")
        yield* repo.recordFailure(calendar.id, "HTTP 500")
        const failed = (yield* repo.list(alice.id))[0]
        assert.strictEqual(failed.lastError, "HTTP 500")
        assert.deepStrictEqual(failed.lastSyncedAt, at(0))
        assert.deepStrictEqual(failed.lastAttemptAt, at("15 minutes"))
        assert.deepStrictEqual(yield* repo.busy(calendar.id), [hours(1, 2), hours(3, 4)])

        yield* TestClock.adjust("15 minutes")
        assert.isTrue(yield* repo.replaceBusy(calendar.id, [hours(5, 6)]))
        const synced = (yield* repo.list(alice.id))[0]
        assert.isNull(synced.lastError)
        assert.deepStrictEqual(synced.lastSyncedAt, at("30 minutes"))
        assert.deepStrictEqual(yield* repo.busy(calendar.id), [hours(5, 6)])
        // The least recently attempted feed comes first.
        const fresh = yield* repo.add({ therapistId: alice.id, url: "https://a.test/y.ics", label: null }, 5)
        assert.deepStrictEqual((yield* repo.listAll).map((c) => c.id), [fresh.id, calendar.id])

        // A large import (several insert chunks) lands whole.
        const many = Array.from({ length: 2500 }, (_, i) => hours(100 + i, 100.5 + i))
        assert.isTrue(yield* repo.replaceBusy(fresh.id, many))
        assert.strictEqual((yield* repo.busy(fresh.id)).length, 2500)

        yield* repo.remove(alice.id, calendar.id)
        assert.isFalse(yield* repo.replaceBusy(calendar.id, [hours(7, 8)]))
        assert.deepStrictEqual(yield* repo.busy(calendar.id), [])
      }).pipe(Effect.provide(layer)))

    it.effect("imported busy times refuse overlapping bookings of their therapist only", () =>
      Effect.gen(function*() {
        const { book, therapist } = yield* bookingSetup
        const repo = yield* externalCalendars
        const calendar = yield* repo.add({ therapistId: therapist.id, url: "https://a.test/b.ics", label: null }, 5)
        yield* repo.replaceBusy(calendar.id, [hours(24, 25)])

        const refused = yield* Effect.flip(book(24.5, 25.5))
        assert.strictEqual(refused._tag, "BusyInExternalCalendar")
        if (refused._tag === "BusyInExternalCalendar") assert.strictEqual(refused.calendarId, calendar.id)
        // Touching ends do not overlap.
        assert.strictEqual((yield* book(25, 26)).status, "pending")
        assert.strictEqual((yield* book(23, 24)).status, "pending")
        // Another therapist's calendar does not block this one.
        const other = yield* makeTherapist()
        const theirs = yield* repo.add({ therapistId: other.id, url: "https://a.test/b.ics", label: null }, 5)
        yield* repo.replaceBusy(theirs.id, [hours(30, 31)])
        assert.strictEqual((yield* book(30, 31)).status, "pending")

        // A new import without the busy time frees the slot.
        yield* repo.replaceBusy(calendar.id, [])
        assert.strictEqual((yield* book(24, 25)).status, "pending")
      }).pipe(Effect.provide(layer)))
  })
