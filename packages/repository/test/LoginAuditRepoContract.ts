import { assert, describe, it } from "@effect/vitest"
import type { Layer } from "effect"
import { Effect } from "effect"
import { type LoginAuditEntry, LoginAuditRepo } from "../src/LoginAuditRepo.js"
import type { UserRepo } from "../src/UserRepo.js"
import { at, makeTherapist, startClock } from "./fixtures.js"

export const loginAuditRepoContract = (name: string, layer: Layer.Layer<LoginAuditRepo | UserRepo>) =>
  describe(`LoginAuditRepo (${name})`, () => {
    it.effect("keeps every entry as written, newest first; an unknown account is its email only", () =>
      Effect.gen(function*() {
        yield* startClock
        const audit = yield* LoginAuditRepo
        const user = yield* makeTherapist()
        const entries: ReadonlyArray<LoginAuditEntry> = [
          {
            at: at("1 minute"),
            email: "nobody@clinic.test",
            userId: null,
            address: null,
            userAgent: null,
            outcome: "failed"
          },
          {
            at: at("2 minutes"),
            email: user.email,
            userId: user.id,
            address: "2001:db8::1",
            userAgent: "curl/8.5.0",
            outcome: "succeeded"
          },
          {
            at: at("3 minutes"),
            email: user.email,
            userId: user.id,
            address: "192.0.2.7",
            userAgent: "x".repeat(256),
            outcome: "throttled"
          }
        ]
        for (const entry of entries) yield* audit.record(entry)
        const recent = yield* audit.listRecent(3)
        assert.deepStrictEqual(recent, [...entries].reverse())
        assert.deepStrictEqual(yield* audit.listRecent(1), [entries[2]])
      }).pipe(Effect.provide(layer)))

    it.effect("an address is known for an account after a success from it, within the lookback only", () =>
      Effect.gen(function*() {
        yield* startClock
        const audit = yield* LoginAuditRepo
        const user = yield* makeTherapist()
        const other = yield* makeTherapist()
        const entry = (minutes: number, address: string, outcome: LoginAuditEntry["outcome"]) =>
          audit.record({
            at: at(`${minutes} minutes`),
            email: user.email,
            userId: user.id,
            address,
            userAgent: null,
            outcome
          })
        yield* entry(10, "192.0.2.1", "succeeded")
        yield* entry(10, "192.0.2.2", "failed")
        yield* entry(10, "192.0.2.3", "throttled")
        const known = (address: string, sinceMinutes: number, userId = user.id) =>
          audit.hasSucceeded({ userId, address, since: at(`${sinceMinutes} minutes`) })
        assert.isTrue(yield* known("192.0.2.1", 0))
        assert.isFalse(yield* known("192.0.2.1", 10))
        assert.isFalse(yield* known("192.0.2.2", 0))
        assert.isFalse(yield* known("192.0.2.3", 0))
        assert.isFalse(yield* known("192.0.2.1", 0, other.id))
      }).pipe(Effect.provide(layer)))
  })
