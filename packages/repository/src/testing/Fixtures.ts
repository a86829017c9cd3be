import { Email, type User } from "@clinic/domain"
import { Effect } from "effect"
import { UserRepo } from "../UserRepo.js"

let emails = 0

/** A therapist with a unique email, for tests that need an owner for patients, bookings or sessions. */
export const makeTherapist = (name = "Dr Test"): Effect.Effect<User, never, UserRepo> =>
  Effect.flatMap(UserRepo, (users) =>
    users.insert({
      email: Email.make(`therapist${emails++}.${crypto.randomUUID().slice(0, 8)}@clinic.test`),
      name,
      role: "therapist",
      passwordHash: "scrypt$not-a-real-hash"
    })).pipe(Effect.orDie)
