import { assert, describe, it } from "@effect/vitest"
import { Effect, type Layer, TestClock } from "effect"
import { PatientRepo } from "../src/PatientRepo.js"
import type { UserRepo } from "../src/UserRepo.js"
import { at, makeTherapist, startClock } from "./fixtures.js"

export const patientRepoContract = (name: string, layer: Layer.Layer<PatientRepo | UserRepo>) =>
  describe(`PatientRepo (${name})`, () => {
    it.effect("a therapist sees and changes only their own patients", () =>
      Effect.gen(function*() {
        yield* startClock
        const patients = yield* PatientRepo
        const alice = yield* makeTherapist("Alice")
        const bob = yield* makeTherapist("Bob")
        const p = yield* patients.insert({ therapistId: alice.id, name: "Pat", email: null, phone: "123", notes: null })

        assert.strictEqual((yield* patients.findOwned(alice.id, p.id)).name, "Pat")
        assert.strictEqual((yield* Effect.flip(patients.findOwned(bob.id, p.id)))._tag, "NotFound")
        assert.strictEqual((yield* Effect.flip(patients.update(bob.id, p.id, { name: "Stolen" })))._tag, "NotFound")

        yield* TestClock.adjust("1 hour")
        const updated = yield* patients.update(alice.id, p.id, { name: "Patricia", phone: null })
        assert.strictEqual(updated.name, "Patricia")
        assert.isNull(updated.phone)
        assert.strictEqual(updated.notes, null)
        assert.strictEqual(updated.updatedAt.epochMillis, at("1 hour").epochMillis)
        assert.strictEqual((yield* patients.findOwned(alice.id, p.id)).name, "Patricia")
      }).pipe(Effect.provide(layer)))

    it.effect("lists a therapist's patients in pages by (createdAt, id)", () =>
      Effect.gen(function*() {
        yield* startClock
        const patients = yield* PatientRepo
        const alice = yield* makeTherapist("Alice")
        const bob = yield* makeTherapist("Bob")
        const created = yield* Effect.forEach([1, 2, 3, 4, 5], (i) =>
          Effect.zipLeft(
            patients.insert({ therapistId: alice.id, name: `P${i}`, email: null, phone: null, notes: null }),
            TestClock.adjust("1 minute")
          ))
        yield* patients.insert({ therapistId: bob.id, name: "Other", email: null, phone: null, notes: null })

        const page1 = yield* patients.list(alice.id, { limit: 2 })
        const last = page1[page1.length - 1]
        const page2 = yield* patients.list(alice.id, { limit: 2, after: { createdAt: last.createdAt, id: last.id } })
        const last2 = page2[page2.length - 1]
        const page3 = yield* patients.list(alice.id, { limit: 2, after: { createdAt: last2.createdAt, id: last2.id } })
        assert.deepStrictEqual([...page1, ...page2, ...page3].map((p) => p.name), created.map((p) => p.name))
        assert.strictEqual(page3.length, 1)
      }).pipe(Effect.provide(layer)))
  })
