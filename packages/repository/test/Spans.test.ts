import { methodSpanProblems } from "@clinic/testing"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Layer } from "effect"
import { AuthSessionRepo, SessionSelector } from "../src/AuthSessionRepo.js"
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
import * as TestDatabase from "../src/testing/TestDatabase.js"
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

const id = "00000000-0000-4000-8000-000000000000"
const now = DateTime.unsafeMake("2026-03-02T10:00:00Z")

/**
 * Every method of every repository is called with no arguments, or with these where a Pg method
 * reads its arguments as it is called (before its span starts): each must start exactly one span
 * named `<Repo>.<method>`.
 */
const args: Readonly<Record<string, Readonly<Record<string, ReadonlyArray<unknown>>>>> = {
  AuthSessionRepo: {
    touch: [id, now],
    deleteBatch: [SessionSelector.Expired({ now }), 1],
    deleteByIds: [[id]]
  },
  PatientRepo: { list: [id, { limit: 1 }] },
  BookingRepo: { transition: [id, { from: ["pending"], to: "confirmed" }] },
  RecordingRepo: { transition: [id, { to: "failed" }], saveNotes: [{}] },
  RateLimitRepo: {
    attempt: [[], {}, () => ({ result: undefined, counted: false })],
    clear: [[]],
    release: [[], now]
  },
  LoginAuditRepo: { record: [{}], hasSucceeded: [{ userId: id, address: "192.0.2.1", since: now }] },
  OperatorActionRepo: { record: [{ at: now }] }
}

const everyMethodTraced = Effect.gen(function*() {
  const problems: Array<string> = []
  for (const [repo, service] of Object.entries(yield* repositories)) {
    problems.push(...(yield* methodSpanProblems(repo, service, { args: args[repo] })))
  }
  assert.deepStrictEqual(problems, [])
})

describe("repository spans", () => {
  it.effect("every method of every memory repository starts one span named <Repo>.<method>", () =>
    everyMethodTraced.pipe(Effect.provide(Layer.merge(Repositories.layerMemory, IdempotencyRepo.layerMemory))))

  it.effect("every method of every Pg repository starts one span named <Repo>.<method>", () =>
    everyMethodTraced.pipe(
      Effect.provide(
        Layer.merge(Repositories.layerPg, IdempotencyRepo.layerPg).pipe(Layer.provideMerge(TestDatabase.layer))
      )
    ))
})
