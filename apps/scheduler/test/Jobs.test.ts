import { Email } from "@clinic/domain"
import { AuthSessionRepo, BookingRepo, PatientRepo, UserRepo } from "@clinic/repository"
import { SchedulerEngine } from "@clinic/scheduler-engine"
import { advance } from "@clinic/testing/TestTime"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Duration, Effect, Layer, TestClock } from "effect"
import { AUTH_SESSION_CLEANUP, BOOKING_HOLD_EXPIRY, CALENDAR_SYNC, EVENTS_PRUNE, HISTORY_PRUNE } from "../src/Jobs.js"
import { configLayer, memoryApp } from "./layers.js"

const T0 = DateTime.unsafeMake("2026-03-02T09:00:00.000Z")

const fixtures = Effect.gen(function*() {
  const users = yield* UserRepo
  const user = yield* users.insert({
    email: Email.make(`t${crypto.randomUUID().slice(0, 8)}@clinic.test`),
    name: "Dr Test",
    role: "therapist",
    passwordHash: "x"
  }).pipe(Effect.orDie)
  const patient = yield* (yield* PatientRepo).insert({
    therapistId: user.id,
    name: "Pat",
    email: null,
    phone: null,
    notes: null
  })
  const now = yield* DateTime.now
  const session = yield* (yield* AuthSessionRepo).insert({
    userId: user.id,
    tokenHash: crypto.randomUUID(),
    expiresAt: DateTime.addDuration(now, Duration.minutes(10)),
    userAgent: null,
    ip: null
  })
  const booking = yield* (yield* BookingRepo).insert({
    therapistId: user.id,
    patientId: patient.id,
    startsAt: DateTime.addDuration(now, Duration.days(1)),
    endsAt: DateTime.addDuration(now, Duration.days(1).pipe(Duration.sum(Duration.hours(1)))),
    holdExpiresAt: DateTime.addDuration(now, Duration.seconds(30))
  }).pipe(Effect.orDie)
  return { session, booking }
})

describe("scheduler jobs", () => {
  it.scoped("defaults: booking holds expire within a minute, expired auth sessions go at the 15-minute tick", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(DateTime.toEpochMillis(T0))
      const { booking, session } = yield* fixtures
      const engine = yield* SchedulerEngine
      const status = yield* engine.status
      assert.deepStrictEqual(status.jobs.map((j) => [j.name, j.schedule]), [
        [AUTH_SESSION_CLEANUP, "every 15m"],
        [BOOKING_HOLD_EXPIRY, "every 1m"],
        [HISTORY_PRUNE, "cron 0 30 3 * * * (UTC)"],
        [EVENTS_PRUNE, "every 1h"],
        [CALENDAR_SYNC, "every 15m"],
        ["nightly-maintenance", "cron 15 4 * * * (UTC)"]
      ])
      yield* engine.start
      yield* advance("1 minute")
      const bookings = yield* BookingRepo
      assert.deepStrictEqual(yield* bookings.listLapsedHolds(yield* DateTime.now, 10), [])
      const expiry = (yield* engine.job(BOOKING_HOLD_EXPIRY)).recentRuns[0]
      assert.strictEqual(expiry.outcome, "succeeded")
      assert.deepStrictEqual((expiry.result as { expiredBookingIds: Array<string> }).expiredBookingIds, [booking.id])

      const sessions = yield* AuthSessionRepo
      yield* advance("13 minutes")
      assert.isTrue(yield* Effect.isSuccess(sessions.findById(session.id)))
      yield* advance("1 minute")
      assert.isTrue(yield* Effect.isFailure(sessions.findById(session.id)))
      const cleanup = (yield* engine.job(AUTH_SESSION_CLEANUP)).recentRuns
      assert.strictEqual(cleanup.length, 1)
      assert.strictEqual(cleanup[0].outcome, "succeeded")
      assert.strictEqual((cleanup[0].result as { expired: { deletedSessions: number } }).expired.deletedSessions, 1)
      assert.strictEqual((yield* engine.job(BOOKING_HOLD_EXPIRY)).recentRuns.length, 15)
      const calendarSync = (yield* engine.job(CALENDAR_SYNC)).recentRuns
      assert.deepStrictEqual(calendarSync.map((run) => run.outcome), ["succeeded"])
    }).pipe(Effect.provide(memoryApp())))

  it.scoped("schedules come from config: auth session cleanup every 5 minutes", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(DateTime.toEpochMillis(T0))
      const { session } = yield* fixtures
      const engine = yield* SchedulerEngine
      yield* engine.start
      yield* advance("5 minutes")
      assert.strictEqual((yield* engine.job(AUTH_SESSION_CLEANUP)).recentRuns.length, 1)
      yield* advance("5 minutes")
      yield* advance("5 minutes")
      assert.isTrue(yield* Effect.isFailure(Effect.flatMap(AuthSessionRepo, (r) => r.findById(session.id))))
      assert.strictEqual((yield* engine.job(AUTH_SESSION_CLEANUP)).recentRuns.length, 3)
    }).pipe(Effect.provide(memoryApp({ SCHEDULER_AUTH_SESSION_CLEANUP: "every 5 minutes" }))))

  it.effect("a malformed schedule or a lease over 10 s is a config error at start", () =>
    Effect.gen(function*() {
      const bad = yield* Effect.flip(Layer.build(configLayer({ SCHEDULER_AUTH_SESSION_CLEANUP: "every banana" })))
      assert.match(String(bad), /SCHEDULER_AUTH_SESSION_CLEANUP/)
      const badCron = yield* Effect.flip(Layer.build(configLayer({ SCHEDULER_BOOKING_HOLD_EXPIRY: "61 * * * *" })))
      assert.match(String(badCron), /SCHEDULER_BOOKING_HOLD_EXPIRY/)
      const longLease = yield* Effect.flip(Layer.build(configLayer({ SCHEDULER_LEASE: "30 seconds" })))
      assert.match(String(longLease), /SCHEDULER_LEASE/)
    }).pipe(Effect.scoped))
})
