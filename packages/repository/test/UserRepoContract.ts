import { Email, UserId } from "@clinic/domain"
import { assert, describe, it } from "@effect/vitest"
import { Effect, type Layer, Option } from "effect"
import { UserRepo } from "../src/UserRepo.js"
import { startClock } from "./fixtures.js"

export const userRepoContract = (name: string, layer: Layer.Layer<UserRepo>) =>
  describe(`UserRepo (${name})`, () => {
    it.effect("registers a user once per email and keeps the hash for sign-in only", () =>
      Effect.gen(function*() {
        yield* startClock
        const users = yield* UserRepo
        const email = Email.make(`ada.${crypto.randomUUID().slice(0, 6)}@clinic.test`)
        const user = yield* users.insert({ email, name: "Ada", role: "therapist", passwordHash: "h1" })
        assert.strictEqual((yield* users.findById(user.id)).email, email)
        assert.notProperty(user, "passwordHash")

        const credentials = Option.getOrThrow(yield* users.findCredentials(email))
        assert.strictEqual(credentials.passwordHash, "h1")
        assert.strictEqual(credentials.user.id, user.id)

        const again = yield* Effect.flip(users.insert({ email, name: "Ada 2", role: "therapist", passwordHash: "h2" }))
        assert.strictEqual(again._tag, "EmailAlreadyRegistered")
        assert.isTrue(Option.isNone(yield* users.findCredentials(Email.make("nobody@clinic.test"))))
        assert.strictEqual((yield* Effect.flip(users.findById(UserId.make(crypto.randomUUID()))))._tag, "NotFound")
      }).pipe(Effect.provide(layer)))
    it.effect("replaces a password hash; a missing user changes nothing", () =>
      Effect.gen(function*() {
        yield* startClock
        const users = yield* UserRepo
        const email = Email.make(`grace.${crypto.randomUUID().slice(0, 6)}@clinic.test`)
        const other = Email.make(`alan.${crypto.randomUUID().slice(0, 6)}@clinic.test`)
        const user = yield* users.insert({ email, name: "Grace", role: "therapist", passwordHash: "old" })
        yield* users.insert({ email: other, name: "Alan", role: "therapist", passwordHash: "his" })
        yield* users.updatePasswordHash(user.id, "new")
        yield* users.updatePasswordHash(UserId.make(crypto.randomUUID()), "nobody's")
        assert.strictEqual(Option.getOrThrow(yield* users.findCredentials(email)).passwordHash, "new")
        assert.strictEqual(Option.getOrThrow(yield* users.findCredentials(other)).passwordHash, "his")
      }).pipe(Effect.provide(layer)))
  })
