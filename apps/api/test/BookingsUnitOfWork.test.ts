import { OutboxStore } from "@clinic/events"
import { BookingRepo, IdempotencyRepo, layerPg as RepositoriesPg, PatientRepo } from "@clinic/repository"
import { makeTherapist } from "@clinic/repository/testing/Fixtures"
import * as TestDatabase from "@clinic/repository/testing/TestDatabase"
import { at, startClock } from "@clinic/testing/TestTime"
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Duration, Effect, Exit, Layer, Option } from "effect"
import { Bookings } from "../src/Bookings.js"

/** The Postgres outbox, except that writing an event succeeds and then the connection is lost. */
const lostAfterWrite = Layer.effect(
  OutboxStore,
  Effect.map(OutboxStore, (store) =>
    OutboxStore.of({
      ...store,
      insert: (event) => Effect.zipRight(store.insert(event), Effect.dieMessage("connection lost after the write"))
    }))
).pipe(Layer.provide(OutboxStore.layerPg))

const layer = Bookings.Default.pipe(
  Layer.provideMerge(Layer.mergeAll(RepositoriesPg, IdempotencyRepo.layerPg, lostAfterWrite)),
  Layer.provideMerge(TestDatabase.layer)
)

const count = (table: "bookings" | "outbox_events" | "idempotency_keys") =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql(table)}`).pipe(
    Effect.map((rows) => rows[0].n),
    Effect.orDie
  )

const setup = Effect.gen(function*() {
  yield* startClock
  const therapist = yield* makeTherapist()
  const patient = yield* Effect.flatMap(
    PatientRepo,
    (repo) => repo.insert({ therapistId: therapist.id, name: "Pat", email: null, phone: null, notes: null })
  )
  const slot = { patientId: patient.id, startsAt: at(Duration.hours(24)), endsAt: at(Duration.hours(25)) }
  return { bookings: yield* Bookings, therapist, slot }
})

const diedAfterWrite = <A, E>(exit: Exit.Exit<A, E>) =>
  Exit.isFailure(exit) &&
  Option.exists(Cause.dieOption(exit.cause), (defect) => String(defect).includes("connection lost after the write"))

describe("Bookings on Postgres: each change is one unit of work", () => {
  it.effect("a create that fails after its writes leaves no booking, no event and no idempotency key", () =>
    Effect.gen(function*() {
      const { bookings, slot, therapist } = yield* setup
      const exit = yield* Effect.exit(bookings.create(therapist.id, slot, "key-1"))
      assert.isTrue(diedAfterWrite(exit))
      assert.strictEqual(yield* count("bookings"), 0)
      assert.strictEqual(yield* count("outbox_events"), 0)
      assert.strictEqual(yield* count("idempotency_keys"), 0, "the key can be retried")
    }).pipe(Effect.provide(layer)))

  it.effect("a confirmation that fails after its writes leaves the booking pending and publishes nothing", () =>
    Effect.gen(function*() {
      const { bookings, slot, therapist } = yield* setup
      const held = yield* Effect.flatMap(BookingRepo, (repo) =>
        repo.insert({
          therapistId: therapist.id,
          ...slot,
          holdExpiresAt: at("15 minutes")
        }))
      const exit = yield* Effect.exit(bookings.confirm(therapist.id, held.id))
      assert.isTrue(diedAfterWrite(exit))
      const current = yield* bookings.get(therapist.id, held.id)
      assert.strictEqual(current.status, "pending")
      assert.deepStrictEqual(current.updatedAt, held.updatedAt)
      assert.strictEqual(yield* count("outbox_events"), 0)
    }).pipe(Effect.provide(layer)))
})
