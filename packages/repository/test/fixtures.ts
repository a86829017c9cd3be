import { Email, type User } from "@clinic/domain"
import type { Duration } from "effect"
import { DateTime, Effect, TestClock } from "effect"
import { UserRepo } from "../src/UserRepo.js"

/** A realistic instant to start every test at: TestClock otherwise starts at 1970. */
export const T0 = DateTime.unsafeMake("2026-03-02T09:00:00.000Z")

export const startClock = TestClock.setTime(DateTime.toEpochMillis(T0))

export const at = (offset: Duration.DurationInput) => DateTime.addDuration(T0, offset)

let emails = 0
export const makeTherapist = (name = "Dr Test"): Effect.Effect<User, never, UserRepo> =>
  Effect.flatMap(UserRepo, (users) =>
    users.insert({
      email: Email.make(`therapist${emails++}.${crypto.randomUUID().slice(0, 8)}@clinic.test`),
      name,
      role: "therapist",
      passwordHash: "scrypt$not-a-real-hash"
    })).pipe(Effect.orDie)
