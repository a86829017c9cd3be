import { recordSpanNames } from "@clinic/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { AuthSessionRepo } from "../src/AuthSessionRepo.js"
import { BookingRepo } from "../src/BookingRepo.js"
import { CalendarFeedRepo } from "../src/CalendarFeedRepo.js"
import { ExternalCalendarRepo } from "../src/ExternalCalendarRepo.js"
import { IdempotencyRepo } from "../src/IdempotencyRepo.js"
import { LoginAuditRepo } from "../src/LoginAuditRepo.js"
import { OperatorActionRepo } from "../src/OperatorActionRepo.js"
import { PatientRepo } from "../src/PatientRepo.js"
import { RateLimitRepo } from "../src/RateLimitRepo.js"
import { RecordingRepo } from "../src/RecordingRepo.js"
import * as Repositories from "../src/Repositories.js"
import { UserRepo } from "../src/UserRepo.js"

/** Every repository, keyed by the name its spans carry. */
const repositories = Effect.all({
  UserRepo,
  AuthSessionRepo,
  PatientRepo,
  BookingRepo,
  CalendarFeedRepo,
  ExternalCalendarRepo,
  RecordingRepo,
  RateLimitRepo,
  LoginAuditRepo,
  OperatorActionRepo,
  IdempotencyRepo
})

describe("repository spans", () => {
  it.effect("every method of every memory repository starts a span named <Repo>.<method>", () =>
    Effect.gen(function*() {
      for (const [repo, service] of Object.entries(yield* repositories)) {
        const methodsOf = service as unknown as Record<
          string,
          Effect.Effect<unknown, unknown> | ((...args: ReadonlyArray<unknown>) => Effect.Effect<unknown, unknown>)
        >
        assert.isNotEmpty(Object.keys(methodsOf), repo)
        for (const method of Object.keys(methodsOf)) {
          const member = methodsOf[method]
          // Called without arguments: whether the call fails does not matter, only that it is traced.
          const { names } = yield* recordSpanNames(Effect.isEffect(member) ? member : Effect.suspend(() => member()))
          assert.include(names, `${repo}.${method}`, `${repo}.${method} starts no span of its name`)
        }
      }
    }).pipe(Effect.provide(Layer.merge(Repositories.layerMemory, IdempotencyRepo.layerMemory))))
})
