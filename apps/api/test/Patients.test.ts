import { Email } from "@clinic/domain"
import { UserRepo } from "@clinic/repository"
import { assert, describe, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { clientFor, makeTherapist, memoryServer, startClock } from "./support/TestApi.js"

describe("patients over HTTP (memory)", () => {
  it.effect("create, read and patch a patient; absent fields stay, null clears", () =>
    Effect.gen(function*() {
      yield* startClock
      const user = yield* makeTherapist()
      const client = yield* clientFor(user)
      const created = yield* client.patients.create({
        payload: { name: "Ada Lovelace", email: Email.make("ada@example.org"), phone: "+44 20 7946 0000" }
      })
      assert.strictEqual(created.name, "Ada Lovelace")
      assert.strictEqual(created.email, "ada@example.org")
      assert.strictEqual(created.therapistId, user.id)
      assert.isNull(created.notes)
      assert.deepStrictEqual(yield* client.patients.get({ path: { id: created.id } }), created)

      yield* TestClock.adjust("1 minute")
      const patched = yield* client.patients.update({
        path: { id: created.id },
        payload: { notes: "prefers mornings" }
      })
      assert.strictEqual(patched.notes, "prefers mornings")
      assert.strictEqual(patched.email, "ada@example.org")
      assert.strictEqual(patched.name, "Ada Lovelace")
      assert.isTrue(patched.updatedAt.epochMillis > created.updatedAt.epochMillis)
      const cleared = yield* client.patients.update({ path: { id: created.id }, payload: { email: null } })
      assert.isNull(cleared.email)
      assert.strictEqual(cleared.notes, "prefers mornings")
    }).pipe(Effect.provide(memoryServer())))

  it.effect("another therapist's patient is a 404 for read and patch, and absent from their list", () =>
    Effect.gen(function*() {
      const alice = yield* clientFor(yield* makeTherapist("Alice"))
      const bob = yield* clientFor(yield* makeTherapist("Bob"))
      const patient = yield* alice.patients.create({ payload: { name: "Alice's patient" } })
      const read = yield* Effect.flip(bob.patients.get({ path: { id: patient.id } }))
      assert.strictEqual(read._tag, "NotFound")
      const patch = yield* Effect.flip(bob.patients.update({ path: { id: patient.id }, payload: { name: "Mine now" } }))
      assert.strictEqual(patch._tag, "NotFound")
      assert.deepStrictEqual((yield* bob.patients.list({ urlParams: {} })).items, [])
      assert.strictEqual((yield* alice.patients.get({ path: { id: patient.id } })).name, "Alice's patient")
    }).pipe(Effect.provide(memoryServer())))

  it.effect("an admin gets no wider view: a therapist's patient is a 404 to them too", () =>
    Effect.gen(function*() {
      const therapist = yield* clientFor(yield* makeTherapist())
      const patient = yield* therapist.patients.create({ payload: { name: "Private" } })
      const admin = yield* Effect.flatMap(UserRepo, (users) =>
        users.insert({
          email: Email.make("admin@clinic.test"),
          name: "Admin",
          role: "admin",
          passwordHash: "x"
        })).pipe(Effect.orDie)
      const adminClient = yield* clientFor(admin)
      assert.strictEqual((yield* Effect.flip(adminClient.patients.get({ path: { id: patient.id } })))._tag, "NotFound")
      assert.deepStrictEqual((yield* adminClient.patients.list({ urlParams: {} })).items, [])
    }).pipe(Effect.provide(memoryServer())))

  it.effect("the list pages in creation order with a cursor, 20 by default", () =>
    Effect.gen(function*() {
      yield* startClock
      const client = yield* clientFor(yield* makeTherapist())
      const ids = []
      for (let i = 0; i < 25; i++) {
        ids.push((yield* client.patients.create({ payload: { name: `Patient ${i}` } })).id)
        yield* TestClock.adjust("1 second")
      }
      const first = yield* client.patients.list({ urlParams: {} })
      assert.deepStrictEqual(first.items.map((p) => p.id), ids.slice(0, 20))
      const rest = yield* client.patients.list({ urlParams: { cursor: first.nextCursor! } })
      assert.deepStrictEqual(rest.items.map((p) => p.id), ids.slice(20))
      assert.isNull(rest.nextCursor)
      // Exactly a page's worth leaves no dangling empty page.
      const exact = yield* client.patients.list({ urlParams: { limit: 25 } })
      assert.strictEqual(exact.items.length, 25)
      assert.isNull(exact.nextCursor)
    }).pipe(Effect.provide(memoryServer())))
})
