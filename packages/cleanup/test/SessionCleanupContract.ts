import type { DomainEvent } from "@clinic/domain"
import { drainOutbox } from "@clinic/events/testing/Outbox"
import { AuthSessionRepo, BookingRepo } from "@clinic/repository"
import { Connections } from "@clinic/repository/testing/TestDatabase"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Deferred, Duration, Effect, Exit, Fiber, HashMap, Logger, Option, Ref, TestClock } from "effect"
import { RemovedMedia } from "../src/AuthSessionMediaStore.js"
import { SessionCleanup } from "../src/SessionCleanup.js"
import {
  addMedia,
  bookingSetup,
  cleanupLayer,
  makeSession,
  makeUser,
  type RepoLayer,
  Resources,
  startClock
} from "./fixtures.js"

const exists = (id: Parameters<AuthSessionRepo["Type"]["findById"]>[0]) =>
  Effect.flatMap(AuthSessionRepo, (repo) => Effect.isSuccess(repo.findById(id)))

/** Collects what is logged at error level, with the cause's text. */
const captureErrors = Effect.gen(function*() {
  const lines = yield* Ref.make<ReadonlyArray<string>>([])
  const logger = Logger.make(({ cause, logLevel, message }) => {
    if (logLevel._tag === "Error") {
      Effect.runSync(
        Ref.update(lines, (all) => [...all, `${String(message)} | ${cause._tag === "Empty" ? "" : String(cause)}`])
      )
    }
  })
  return { lines, layer: Logger.add(logger) }
})

/**
 * Connections checked out of the pool, where the store has one (Postgres: `pool.totalCount -
 * pool.idleCount`); none on memory, whose transactions hold nothing.
 */
const connectionsInUse = Effect.map(Effect.serviceOption(Connections), Option.map((c) => c.inUse))

/** On Postgres, every connection the cleanup took is back in the pool. */
const connectionsReleased = Effect.gen(function*() {
  const inUse = yield* connectionsInUse
  if (Option.isSome(inUse)) assert.strictEqual(yield* inUse.value, 0, "connections still checked out")
})

/** The events waiting in the outbox by type (one instant orders them by random id), now marked relayed. */
const published = Effect.map(drainOutbox, (events) => [...events].sort((a, b) => a._tag.localeCompare(b._tag)))

/** The behaviour of seeds 000 and 001's cleanup functions, on whatever stores the repositories. */
export const sessionCleanupContract = (name: string, repos: RepoLayer) =>
  describe(`SessionCleanup (${name})`, () => {
    it.effect("cleanupExpiredSessions removes only expired sessions, with their media, and returns the count", () =>
      Effect.gen(function*() {
        yield* startClock
        const user = yield* makeUser()
        const expired1 = yield* makeSession(user.id, "1 hour")
        const expired2 = yield* makeSession(user.id, "2 hours")
        const active = yield* makeSession(user.id, "30 days")
        yield* addMedia(expired1.id, "sessions/a.png")
        yield* addMedia(active.id, "sessions/keep.png")
        yield* TestClock.adjust("3 hours")

        const cleanup = yield* SessionCleanup
        assert.strictEqual(yield* cleanup.cleanupExpiredSessions, 2)
        assert.isFalse(yield* exists(expired1.id))
        assert.isFalse(yield* exists(expired2.id))
        assert.isTrue(yield* exists(active.id))
        assert.deepStrictEqual(yield* Ref.get(yield* RemovedMedia), ["sessions/a.png"])
        assert.strictEqual((yield* Effect.flatMap(AuthSessionRepo, (r) => r.listMedia(active.id))).length, 1)
        // Nothing left: a second run finds nothing.
        assert.strictEqual(yield* cleanup.cleanupExpiredSessions, 0)
        yield* connectionsReleased
      }).pipe(Effect.provide(cleanupLayer(repos))))

    it.effect("every deleted session and expired hold is published as a domain event with the change", () =>
      Effect.gen(function*() {
        yield* startClock
        const user = yield* makeUser()
        const expired = yield* makeSession(user.id, "1 hour")
        yield* makeSession(user.id, "30 days")
        const { book, patient, therapist } = yield* bookingSetup
        const lapsed = yield* book("10 minutes")
        yield* book("2 hours")
        yield* TestClock.adjust("90 minutes")
        const cleanup = yield* SessionCleanup
        assert.strictEqual(yield* cleanup.cleanupExpiredSessions, 1)
        assert.deepStrictEqual((yield* cleanup.expirePendingBookings).expiredBookingIds, [lapsed.id])
        const events = yield* published
        assert.deepStrictEqual(events.map((e) => e._tag), ["auth_session.expired", "booking.expired"])
        assert.deepStrictEqual(events[0], {
          _tag: "auth_session.expired",
          authSessionId: expired.id,
          userId: user.id
        } as unknown as DomainEvent)
        assert.deepStrictEqual(events[1], {
          _tag: "booking.expired",
          bookingId: lapsed.id,
          therapistId: therapist.id,
          patientId: patient.id,
          startsAt: DateTime.formatIso(lapsed.startsAt),
          endsAt: DateTime.formatIso(lapsed.endsAt)
        } as unknown as DomainEvent)
        // A run with nothing to do publishes nothing.
        assert.strictEqual(yield* cleanup.cleanupExpiredSessions, 0)
        assert.deepStrictEqual(yield* published, [])
      }).pipe(Effect.provide(cleanupLayer(repos))))

    it.effect("a session expiring exactly now is kept", () =>
      Effect.gen(function*() {
        yield* startClock
        const user = yield* makeUser()
        const session = yield* makeSession(user.id, "1 hour")
        yield* TestClock.adjust("1 hour")
        assert.strictEqual(yield* (yield* SessionCleanup).cleanupExpiredSessions, 0)
        assert.isTrue(yield* exists(session.id))
      }).pipe(Effect.provide(cleanupLayer(repos))))

    it.effect("a backlog goes in batches until drained; quick batches grow", () =>
      Effect.gen(function*() {
        yield* startClock
        const user = yield* makeUser()
        yield* Effect.forEach([1, 2, 3, 4, 5, 6, 7], (h) => makeSession(user.id, `${h} minutes`))
        yield* TestClock.adjust("1 hour")
        const result = yield* (yield* SessionCleanup).expiredSessions
        assert.strictEqual(result.deletedSessions, 7)
        assert.isTrue(result.complete)
        // Batches start at 2 and take no time on the test clock, so each doubles: 2 + 4 + 1, the
        // short batch ends the run.
        assert.strictEqual(yield* Ref.get((yield* Resources).batches), 3)
      }).pipe(Effect.provide(cleanupLayer(repos, { settings: { batchSize: 2 } }))))

    it.effect("a run stops starting batches once its time budget is spent; the next run continues", () =>
      Effect.gen(function*() {
        yield* startClock
        const user = yield* makeUser()
        yield* Effect.forEach([1, 2, 3, 4, 5, 6, 7], (h) => makeSession(user.id, `${h} minutes`))
        yield* TestClock.adjust("1 hour")
        const cleanup = yield* SessionCleanup
        // Each batch takes 20 s of a 45 s budget (so each halves the next, down to one row): after
        // the third batch (2 + 1 + 1 rows) the run stops.
        const first = yield* cleanup.expiredSessions
        assert.strictEqual(first.deletedSessions, 4)
        assert.isFalse(first.complete)
        const second = yield* cleanup.expiredSessions
        assert.strictEqual(second.deletedSessions, 3)
        assert.isTrue(second.complete)
      }).pipe(
        Effect.provide(cleanupLayer(repos, { settings: { batchSize: 2 }, decoration: { batchTakes: "20 seconds" } }))
      ))

    it.effect("a batch's size follows its time: doubled under a quarter of 100 ms, halved over 100 ms", () =>
      Effect.gen(function*() {
        yield* startClock
        const user = yield* makeUser()
        yield* Effect.forEach(Array.from({ length: 27 }, (_, i) => i + 1), (m) => makeSession(user.id, `${m} minutes`))
        yield* TestClock.adjust("1 hour")
        const result = yield* (yield* SessionCleanup).expiredSessions
        assert.strictEqual(result.deletedSessions, 27)
        // 0 ms: doubles; 150 ms: halves; exactly 100 ms or exactly 25 ms: keeps its size.
        assert.deepStrictEqual(yield* Ref.get((yield* Resources).limits), [2, 4, 8, 4, 4, 4, 8])
      }).pipe(
        Effect.provide(cleanupLayer(repos, {
          settings: { batchSize: 2 },
          decoration: { batchTimes: ["0 millis", "0 millis", "150 millis", "100 millis", "25 millis"] }
        }))
      ))

    it.effect("a slow batch halves the next below the configured size, down to one row", () =>
      Effect.gen(function*() {
        yield* startClock
        const user = yield* makeUser()
        yield* Effect.forEach(Array.from({ length: 20 }, (_, i) => i + 1), (m) => makeSession(user.id, `${m} minutes`))
        yield* TestClock.adjust("1 hour")
        const result = yield* (yield* SessionCleanup).expiredSessions
        assert.strictEqual(result.deletedSessions, 20)
        // Over 100 ms: 8 -> 4 -> 2 -> 1, and no lower; 50 ms keeps the size; 0 ms doubles again.
        assert.deepStrictEqual(yield* Ref.get((yield* Resources).limits), [8, 4, 2, 1, 1, 1, 2, 4])
      }).pipe(
        Effect.provide(cleanupLayer(repos, {
          settings: { batchSize: 8 },
          decoration: { batchTimes: ["150 millis", "150 millis", "150 millis", "150 millis", "50 millis"] }
        }))
      ))

    it.effect("a batch ending exactly on the time budget is the run's last", () =>
      Effect.gen(function*() {
        yield* startClock
        const user = yield* makeUser()
        yield* Effect.forEach([1, 2, 3, 4, 5, 6, 7], (h) => makeSession(user.id, `${h} minutes`))
        yield* TestClock.adjust("1 hour")
        // 15 s for 2 rows, then (halved) 15 s for 1 row ends exactly on the 30 s budget.
        const first = yield* (yield* SessionCleanup).expiredSessions
        assert.strictEqual(first.deletedSessions, 3)
        assert.isFalse(first.complete)
      }).pipe(
        Effect.provide(cleanupLayer(repos, {
          settings: { batchSize: 2, timeBudget: Duration.seconds(30) },
          decoration: { batchTakes: "15 seconds" }
        }))
      ))

    it.effect("a failure is logged with its cause, returns 0, changes nothing and releases resources", () =>
      Effect.gen(function*() {
        yield* startClock
        const user = yield* makeUser()
        const expired = yield* makeSession(user.id, "1 hour")
        yield* TestClock.adjust("2 hours")
        const { layer, lines } = yield* captureErrors
        const cleanup = yield* SessionCleanup
        const count = yield* cleanup.cleanupExpiredSessions.pipe(Effect.provide(layer))
        assert.strictEqual(count, 0)
        const logged = yield* Ref.get(lines)
        assert.strictEqual(logged.length, 1)
        assert.match(logged[0], /cleanupExpiredSessions failed/)
        assert.match(logged[0], /connection terminated unexpectedly/)
        assert.isTrue(yield* exists(expired.id))
        yield* connectionsReleased
        // The raw form fails, so a scheduled run is recorded as failed; the next run succeeds.
        const failed = yield* Effect.flip(cleanup.expiredSessions)
        assert.strictEqual(failed._tag, "CleanupFailed")
        assert.strictEqual(yield* cleanup.cleanupExpiredSessions, 1)
      }).pipe(Effect.provide(cleanupLayer(repos, { decoration: { failFirst: 2 } }))))

    it.effect("a failure after earlier batches committed reports what they deleted, and the next run continues", () =>
      Effect.gen(function*() {
        yield* startClock
        const user = yield* makeUser()
        const sessions = yield* Effect.forEach([1, 2, 3, 4, 5], () => makeSession(user.id))
        yield* TestClock.adjust("25 hours")
        const cleanup = yield* SessionCleanup
        // Batches of 2: the first commits, the second dies.
        const result = yield* cleanup.cleanupInactiveSessions()
        assert.match(result.error ?? "", /connection terminated unexpectedly/)
        assert.isFalse(result.complete)
        assert.strictEqual(result.deletedSessions, 2)
        const left = yield* Effect.filter(sessions, (s) => exists(s.id))
        assert.strictEqual(left.length, 3, "the first batch stays deleted")
        assert.strictEqual((yield* published).length, 2, "the committed batch's events stay")
        const next = yield* cleanup.cleanupInactiveSessions()
        assert.strictEqual(next.deletedSessions, 3)
        assert.isTrue(next.complete)
      }).pipe(Effect.provide(cleanupLayer(repos, { settings: { batchSize: 2 }, decoration: { failAt: 1 } }))))

    it.effect("a media file that cannot be removed is counted in the result and logged with its path", () =>
      Effect.gen(function*() {
        yield* startClock
        const user = yield* makeUser()
        const idle = yield* makeSession(user.id)
        yield* addMedia(idle.id, "sessions/stuck.png")
        yield* addMedia(idle.id, "sessions/fine.png")
        yield* TestClock.adjust("25 hours")
        const warnings = yield* Ref.make<ReadonlyArray<string>>([])
        const logger = Logger.make(({ annotations, logLevel, message }) => {
          if (logLevel._tag === "Warning") {
            const paths = HashMap.get(annotations, "paths").pipe(Option.getOrElse(() => ""))
            Effect.runSync(Ref.update(warnings, (all) => [...all, `${String(message)} | ${String(paths)}`]))
          }
        })
        const result = yield* (yield* SessionCleanup).cleanupInactiveSessions().pipe(
          Effect.provide(Logger.add(logger))
        )
        assert.deepStrictEqual(result, {
          deletedSessions: 1,
          deletedMedia: 2,
          removedFiles: 1,
          failedFiles: 1,
          complete: true
        })
        assert.deepStrictEqual(yield* Ref.get(yield* RemovedMedia), ["sessions/fine.png"])
        assert.deepStrictEqual(yield* Ref.get(warnings), [
          "cleanupInactiveSessions: media files could not be removed | sessions/stuck.png"
        ])
      }).pipe(Effect.provide(cleanupLayer(repos, { failingFiles: ["sessions/stuck.png"] }))))

    it.effect("interrupting a run interrupts its batch, gives its connection back and deletes nothing", () =>
      Effect.gen(function*() {
        yield* startClock
        const user = yield* makeUser()
        const session = yield* makeSession(user.id, "1 hour")
        yield* TestClock.adjust("2 hours")
        const resources = yield* Resources
        const fiber = yield* Effect.fork((yield* SessionCleanup).cleanupExpiredSessions)
        yield* Deferred.await(resources.entered)
        // On Postgres the batch's transaction holds a connection while it runs.
        const inUse = yield* connectionsInUse
        if (Option.isSome(inUse)) assert.strictEqual(yield* inUse.value, 1)
        const exit = yield* Fiber.interrupt(fiber)
        assert.isTrue(Exit.isInterrupted(exit))
        // The interruption reached the repository call (its finalizer ran), not only the run.
        assert.isTrue(yield* Deferred.isDone(resources.interrupted))
        yield* connectionsReleased
        assert.isTrue(yield* exists(session.id))
      }).pipe(Effect.provide(cleanupLayer(repos, { decoration: { hang: true } }))))

    it.effect("inactive cleanup with nothing idle deletes nothing", () =>
      Effect.gen(function*() {
        yield* startClock
        const user = yield* makeUser()
        yield* makeSession(user.id)
        const result = yield* (yield* SessionCleanup).cleanupInactiveSessions()
        assert.deepStrictEqual(result, {
          deletedSessions: 0,
          deletedMedia: 0,
          removedFiles: 0,
          failedFiles: 0,
          complete: true
        })
      }).pipe(Effect.provide(cleanupLayer(repos))))

    it.effect("inactive cleanup deletes sessions idle over 24 h with their media rows, then their files", () =>
      Effect.gen(function*() {
        yield* startClock
        const user = yield* makeUser()
        const idle = yield* makeSession(user.id)
        const busy = yield* makeSession(user.id)
        yield* addMedia(idle.id, "sessions/idle-1.png")
        yield* addMedia(idle.id, "sessions/idle-2.mp4")
        yield* TestClock.adjust("25 hours")
        const repo = yield* AuthSessionRepo
        yield* repo.touch(busy.id, yield* DateTime.now)
        const result = yield* (yield* SessionCleanup).cleanupInactiveSessions()
        assert.strictEqual(result.deletedSessions, 1)
        assert.strictEqual(result.deletedMedia, 2)
        assert.strictEqual(result.removedFiles, 2)
        assert.isUndefined(result.error)
        assert.isFalse(yield* exists(idle.id))
        assert.isTrue(yield* exists(busy.id))
        assert.strictEqual((yield* repo.listMedia(idle.id)).length, 0)
        assert.deepStrictEqual(yield* Ref.get(yield* RemovedMedia), ["sessions/idle-1.png", "sessions/idle-2.mp4"])
      }).pipe(Effect.provide(cleanupLayer(repos))))

    it.effect("inactive cleanup honours a custom threshold", () =>
      Effect.gen(function*() {
        yield* startClock
        const user = yield* makeUser()
        yield* makeSession(user.id)
        yield* TestClock.adjust("2 hours")
        const cleanup = yield* SessionCleanup
        assert.strictEqual((yield* cleanup.cleanupInactiveSessions()).deletedSessions, 0)
        assert.strictEqual((yield* cleanup.cleanupInactiveSessions("1 hour")).deletedSessions, 1)
      }).pipe(Effect.provide(cleanupLayer(repos))))

    it.effect("inactive cleanup failure: the result carries the error, nothing is deleted or removed", () =>
      Effect.gen(function*() {
        yield* startClock
        const user = yield* makeUser()
        const idle = yield* makeSession(user.id)
        yield* addMedia(idle.id, "sessions/idle.png")
        yield* TestClock.adjust("25 hours")
        const result = yield* (yield* SessionCleanup).cleanupInactiveSessions()
        assert.strictEqual(result.deletedSessions, 0)
        assert.match(result.error ?? "", /connection terminated unexpectedly/)
        assert.isTrue(yield* exists(idle.id))
        assert.deepStrictEqual(yield* Ref.get(yield* RemovedMedia), [])
      }).pipe(Effect.provide(cleanupLayer(repos, { decoration: { failFirst: 1 } }))))

    it.effect("ending a user's auth sessions removes all of theirs, active or idle, with media; others stay", () =>
      Effect.gen(function*() {
        yield* startClock
        const alice = yield* makeUser("Alice")
        const bob = yield* makeUser("Bob")
        const aliceIdle = yield* makeSession(alice.id)
        yield* addMedia(aliceIdle.id, "sessions/alice.png")
        yield* TestClock.adjust("25 hours")
        const aliceActive = yield* makeSession(alice.id)
        const bobActive = yield* makeSession(bob.id)
        yield* addMedia(bobActive.id, "sessions/bob.png")
        const cleanup = yield* SessionCleanup

        const result = yield* cleanup.endUserAuthSessions(alice.id)
        assert.deepStrictEqual(result, {
          deletedSessions: 2,
          deletedMedia: 1,
          removedFiles: 1,
          failedFiles: 0,
          complete: true,
          userId: alice.id
        })
        assert.isFalse(yield* exists(aliceIdle.id))
        assert.isFalse(yield* exists(aliceActive.id))
        assert.isTrue(yield* exists(bobActive.id))
        assert.deepStrictEqual(yield* Ref.get(yield* RemovedMedia), ["sessions/alice.png"])
        const events = yield* published
        assert.deepStrictEqual(
          events.map((e) => [e._tag, (e as { authSessionId: string }).authSessionId]).sort(),
          [["auth_session.expired", aliceIdle.id], ["auth_session.expired", aliceActive.id]].sort()
        )
        // Nothing left to end; an unknown user is NotFound.
        assert.strictEqual((yield* cleanup.endUserAuthSessions(alice.id)).deletedSessions, 0)
        const unknown = yield* Effect.flip(cleanup.endUserAuthSessions(crypto.randomUUID() as typeof alice.id))
        assert.strictEqual(unknown._tag, "NotFound")
      }).pipe(Effect.provide(cleanupLayer(repos))))

    it.effect("expirePendingBookings with nothing lapsed expires nothing", () =>
      Effect.gen(function*() {
        yield* startClock
        const { book } = yield* bookingSetup
        yield* book()
        yield* TestClock.adjust("14 minutes")
        assert.deepStrictEqual(yield* (yield* SessionCleanup).expirePendingBookings, {
          expiredBookingIds: [],
          complete: true
        })
      }).pipe(Effect.provide(cleanupLayer(repos))))

    it.effect("expirePendingBookings writes expired on lapsed holds only and returns their ids", () =>
      Effect.gen(function*() {
        yield* startClock
        const { book } = yield* bookingSetup
        const lapsed1 = yield* book("15 minutes")
        const lapsed2 = yield* book("10 minutes")
        const fresh = yield* book("1 hour")
        const confirmed = yield* book("5 minutes")
        const repo = yield* BookingRepo
        yield* repo.transition(confirmed.id, { from: ["pending"], to: "confirmed" })
        yield* TestClock.adjust("16 minutes")

        const result = yield* (yield* SessionCleanup).expirePendingBookings
        assert.deepStrictEqual([...result.expiredBookingIds].sort(), [lapsed1.id, lapsed2.id].sort())
        assert.isUndefined(result.error)
        // The stored status changed, not just the effective one: the sweep's query finds nothing more.
        assert.deepStrictEqual(yield* repo.listLapsedHolds(yield* DateTime.now, 10), [])
        assert.strictEqual((yield* repo.findById(fresh.id)).status, "pending")
        assert.strictEqual((yield* repo.findById(confirmed.id)).status, "confirmed")
        assert.deepStrictEqual((yield* (yield* SessionCleanup).expirePendingBookings).expiredBookingIds, [])
      }).pipe(Effect.provide(cleanupLayer(repos))))

    it.effect("expirePendingBookings failure: the result carries the error and holds stay pending", () =>
      Effect.gen(function*() {
        yield* startClock
        const { book } = yield* bookingSetup
        yield* book("5 minutes")
        yield* TestClock.adjust("10 minutes")
        const now = yield* DateTime.now
        const cleanup = yield* SessionCleanup
        const result = yield* cleanup.expirePendingBookings
        assert.deepStrictEqual(result.expiredBookingIds, [])
        assert.match(result.error ?? "", /deadlock detected/)
        assert.isFalse(result.complete)
        // Still stored as pending; the next run (the decorator fails only once) expires it.
        assert.strictEqual((yield* Effect.flatMap(BookingRepo, (r) => r.listLapsedHolds(now, 10))).length, 1)
        assert.strictEqual((yield* cleanup.expirePendingBookingsOrFail).expiredBookingIds.length, 1)
      }).pipe(Effect.provide(cleanupLayer(repos, { failingBookings: 1 }))))

    it.effect("previews list what would go, with users and ages, and change nothing", () =>
      Effect.gen(function*() {
        yield* startClock
        const user = yield* makeUser()
        const { book, therapist } = yield* bookingSetup
        const idle = yield* makeSession(user.id)
        const hold = yield* book("15 minutes")
        yield* TestClock.adjust("25 hours")
        const cleanup = yield* SessionCleanup

        const sessions = yield* cleanup.previewInactiveSessions()
        assert.deepStrictEqual(sessions.map((s) => [s.sessionId, s.userId, s.idleSeconds]), [[
          idle.id,
          user.id,
          25 * 3600
        ]])
        const bookings = yield* cleanup.previewExpiredBookings()
        assert.deepStrictEqual(bookings.map((b) => [b.bookingId, b.therapistId, b.overdueSeconds]), [[
          hold.id,
          therapist.id,
          25 * 3600 - 15 * 60
        ]])
        assert.isTrue(yield* exists(idle.id))
        // Still only lapsed, not written: the sweep would still find it.
        assert.strictEqual((yield* cleanup.previewExpiredBookings()).length, 1)
        assert.deepStrictEqual(yield* Ref.get(yield* RemovedMedia), [])
      }).pipe(Effect.provide(cleanupLayer(repos))))
  })
