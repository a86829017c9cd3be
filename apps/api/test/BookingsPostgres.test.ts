import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Array, DateTime, Duration, Effect, TestClock } from "effect"
import { at, postBooking, postgresServer, startClock, therapistWithPatient } from "./support/TestApi.js"

const iso = (hours: number) => DateTime.formatIso(at(Duration.minutes(hours * 60)))

const count = (table: "bookings" | "idempotency_keys") =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql(table)}`).pipe(
    Effect.map((rows) => rows[0].n)
  )

describe("bookings over HTTP on Postgres", () => {
  it.effect("concurrent overlapping POST /bookings: exactly one 201, the rest 409 BookingOverlap", () =>
    Effect.gen(function*() {
      yield* startClock
      const { patient, user } = yield* therapistWithPatient
      const responses = yield* Effect.all(
        Array.makeBy(12, (i) =>
          postBooking(user.id, undefined, {
            patientId: patient.id,
            startsAt: iso(24 + i * 0.05),
            endsAt: iso(25 + i * 0.05)
          })),
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(responses.filter((r) => r.status === 201).length, 1)
      for (const lost of responses.filter((r) => r.status !== 201)) {
        assert.strictEqual(lost.status, 409)
        assert.strictEqual(lost.body._tag, "BookingOverlap")
      }
      assert.strictEqual(yield* count("bookings"), 1)
    }).pipe(Effect.provide(postgresServer())))

  it.effect("concurrent retries with one Idempotency-Key make one booking and all answer its 201", () =>
    Effect.gen(function*() {
      yield* startClock
      const { patient, user } = yield* therapistWithPatient
      const body = { patientId: patient.id, startsAt: iso(24), endsAt: iso(25) }
      const responses = yield* Effect.all(
        Array.makeBy(10, () => postBooking(user.id, "same-key", body)),
        { concurrency: "unbounded" }
      )
      for (const response of responses) assert.deepStrictEqual(response, responses[0])
      assert.strictEqual(responses[0].status, 201)
      assert.strictEqual(yield* count("bookings"), 1)
      assert.strictEqual(yield* count("idempotency_keys"), 1)
      // A later retry still replays it.
      assert.deepStrictEqual(yield* postBooking(user.id, "same-key", body), responses[0])
    }).pipe(Effect.provide(postgresServer())))

  it.effect("one key sent with two bodies at once: one body wins, the other gets 422", () =>
    Effect.gen(function*() {
      yield* startClock
      const { patient, user } = yield* therapistWithPatient
      const a = { patientId: patient.id, startsAt: iso(24), endsAt: iso(25) }
      const b = { patientId: patient.id, startsAt: iso(30), endsAt: iso(31) }
      const responses = yield* Effect.all(
        Array.makeBy(10, (i) => postBooking(user.id, "contested", i % 2 === 0 ? a : b)),
        { concurrency: "unbounded" }
      )
      const created = responses.filter((r) => r.status === 201)
      const refused = responses.filter((r) => r.status === 422)
      assert.strictEqual(created.length, 5)
      assert.strictEqual(refused.length, 5)
      assert.strictEqual(new Set(created.map((r) => r.body.id)).size, 1)
      for (const r of refused) assert.strictEqual(r.body._tag, "IdempotencyKeyReused")
      assert.strictEqual(yield* count("bookings"), 1)
    }).pipe(Effect.provide(postgresServer())))

  it.effect("a keyed request that hit an overlap stores its 409 (the insert rolls back to a savepoint)", () =>
    Effect.gen(function*() {
      yield* startClock
      const { client, patient, user } = yield* therapistWithPatient
      const blocker = yield* postBooking(user.id, undefined, {
        patientId: patient.id,
        startsAt: iso(24),
        endsAt: iso(25)
      })
      const body = { patientId: patient.id, startsAt: iso(24.5), endsAt: iso(25.5) }
      const first = yield* postBooking(user.id, "k-409", body)
      assert.strictEqual(first.status, 409)
      assert.strictEqual(first.body._tag, "BookingOverlap")
      yield* client.bookings.cancel({ path: { id: blocker.body.id } })
      assert.deepStrictEqual(yield* postBooking(user.id, "k-409", body), first)
      assert.strictEqual(yield* count("idempotency_keys"), 1)
      assert.strictEqual((yield* postBooking(user.id, "k-new", body)).status, 201)
    }).pipe(Effect.provide(postgresServer())))

  it.effect("the hold is enforced by time passed into SQL: confirm at 15:00 is 409, the slot is free again", () =>
    Effect.gen(function*() {
      yield* startClock
      const { client, patient, user } = yield* therapistWithPatient
      const body = { patientId: patient.id, startsAt: iso(24), endsAt: iso(25) }
      const held = yield* postBooking(user.id, undefined, body)
      assert.strictEqual((yield* postBooking(user.id, undefined, body)).status, 409)
      yield* TestClock.adjust("15 minutes")
      const late = yield* Effect.flip(client.bookings.confirm({ path: { id: held.body.id } }))
      assert.strictEqual(late._tag, "HoldExpired")
      const rebooked = yield* postBooking(user.id, undefined, body)
      assert.strictEqual(rebooked.status, 201)
      const confirmed = yield* client.bookings.confirm({ path: { id: rebooked.body.id } })
      assert.strictEqual(confirmed.status, "confirmed")
      const statuses = yield* client.bookings.list({ urlParams: {} })
      assert.deepStrictEqual(statuses.items.map((b) => b.status).sort(), ["confirmed", "expired"])
    }).pipe(Effect.provide(postgresServer())))
})
