import type { Booking, UserId } from "@clinic/domain"
import { PatientId } from "@clinic/domain"
import { OutboxStore } from "@clinic/events"
import { BookingRepo, IdempotencyRepo, layerMemory, layerPg, PatientRepo } from "@clinic/repository"
import * as TestDatabase from "@clinic/repository/testing/TestDatabase"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Duration, Effect, Either, FastCheck as fc, Layer, TestClock } from "effect"
import { Bookings } from "../src/Bookings.js"
import { at, makeTherapist, startClock, testConfig } from "./support/TestApi.js"

type Op =
  | { readonly _tag: "create"; readonly start: number; readonly length: number }
  | { readonly _tag: "confirm" | "cancel"; readonly pick: number }
  | { readonly _tag: "advance"; readonly minutes: number }

// Quarter-hour slots over one day, so that random bookings collide often.
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      _tag: fc.constant("create" as const),
      start: fc.nat(40),
      length: fc.integer({ min: 1, max: 8 })
    })
  },
  { weight: 2, arbitrary: fc.record({ _tag: fc.constant("confirm" as const), pick: fc.nat(50) }) },
  { weight: 1, arbitrary: fc.record({ _tag: fc.constant("cancel" as const), pick: fc.nat(50) }) },
  {
    weight: 2,
    arbitrary: fc.record({ _tag: fc.constant("advance" as const), minutes: fc.integer({ min: 1, max: 20 }) })
  }
)
const ops = fc.array(op, { minLength: 1, maxLength: 40 })

const slotStart = (quarter: number) => at(Duration.minutes(24 * 60 + quarter * 15))
const isActive = (b: Booking) => b.status === "pending" || b.status === "confirmed"
const overlaps = (
  a: { startsAt: DateTime.Utc; endsAt: DateTime.Utc },
  b: { startsAt: DateTime.Utc; endsAt: DateTime.Utc }
) => DateTime.lessThan(a.startsAt, b.endsAt) && DateTime.lessThan(b.startsAt, a.endsAt)

const activeOf = (therapistId: UserId) =>
  Effect.flatMap(BookingRepo, (repo) => repo.list(therapistId, { limit: 1000 })).pipe(
    Effect.map((all) => all.filter(isActive))
  )

/**
 * Replays the operations through the `Bookings` service and checks after every step that no two
 * active bookings overlap, and that a create succeeds exactly when no active booking is in its way
 * (so a lapsed hold never blocks).
 */
const run = (sequence: ReadonlyArray<Op>) =>
  Effect.gen(function*() {
    yield* startClock
    const bookings = yield* Bookings
    const therapist = yield* makeTherapist()
    const patient = yield* Effect.flatMap(PatientRepo, (repo) =>
      repo.insert({ therapistId: therapist.id, name: "P", email: null, phone: null, notes: null }))
    const created: Array<Booking["id"]> = []
    for (const step of sequence) {
      if (step._tag === "create") {
        const range = { startsAt: slotStart(step.start), endsAt: slotStart(step.start + step.length) }
        const blocked = (yield* activeOf(therapist.id)).some((b) =>
          overlaps(b, range)
        )
        const result = yield* Effect.either(
          bookings.create(therapist.id, { patientId: PatientId.make(patient.id), ...range })
        )
        assert.strictEqual(Either.isRight(result), !blocked, `create ${JSON.stringify(step)}`)
        if (Either.isRight(result)) created.push(result.right.id)
        else assert.strictEqual(result.left._tag, "BookingOverlap")
      } else if (step._tag === "advance") {
        yield* TestClock.adjust(Duration.minutes(step.minutes))
      } else if (created.length > 0) {
        const id = created[step.pick % created.length]
        yield* Effect.either(
          step._tag === "confirm" ? bookings.confirm(therapist.id, id) : bookings.cancel(therapist.id, id)
        )
      }
      const active = yield* activeOf(therapist.id)
      for (let i = 0; i < active.length; i++) {
        for (let j = i + 1; j < active.length; j++) {
          assert.isFalse(overlaps(active[i], active[j]), `${active[i].id} overlaps ${active[j].id}`)
        }
      }
    }
  })

const memory = Bookings.DefaultWithoutDependencies.pipe(
  Layer.provideMerge(Layer.mergeAll(layerMemory, IdempotencyRepo.layerMemory, OutboxStore.layerMemory)),
  Layer.provide(testConfig())
)
const postgres = Bookings.DefaultWithoutDependencies.pipe(
  Layer.provideMerge(Layer.mergeAll(layerPg, IdempotencyRepo.layerPg, OutboxStore.layerPg)),
  Layer.provide(TestDatabase.layer),
  Layer.provide(testConfig())
)

describe("no two active bookings of a therapist ever overlap", () => {
  it.effect.prop(
    "memory store, any sequence of create/confirm/cancel/expire",
    [ops],
    ([sequence]) => run(sequence).pipe(Effect.provide(memory)),
    { fastCheck: { numRuns: 150 } }
  )

  it.effect.prop("Postgres, a smaller run", [ops], ([sequence]) => run(sequence).pipe(Effect.provide(postgres)), {
    timeout: 120_000,
    fastCheck: { numRuns: 15 }
  })
})
