import { Email, type User, type UserId } from "@clinic/domain"
import { OutboxStore } from "@clinic/events"
import { AuthSessionRepo, type AuthSessionRepoShape, BookingRepo, PatientRepo, UserRepo } from "@clinic/repository"
import type { SqlClient } from "@effect/sql"
import { DateTime, Deferred, Duration, Effect, Layer, Ref, TestClock } from "effect"
import * as Media from "../src/AuthSessionMediaStore.js"
import { CleanupConfig, type CleanupSettings } from "../src/CleanupConfig.js"
import { SessionCleanup } from "../src/SessionCleanup.js"

export const T0 = DateTime.unsafeMake("2026-03-02T09:00:00.000Z")
export const startClock = TestClock.setTime(DateTime.toEpochMillis(T0))

let emails = 0
export const makeUser = (name = "Dr Test"): Effect.Effect<User, never, UserRepo> =>
  Effect.flatMap(UserRepo, (users) =>
    users.insert({
      email: Email.make(`cleanup${emails++}.${crypto.randomUUID().slice(0, 8)}@clinic.test`),
      name,
      role: "therapist",
      passwordHash: "scrypt$not-a-real-hash"
    })).pipe(Effect.orDie)

/** A session created at the Clock's now, expiring after `expiresIn`. */
export const makeSession = (userId: UserId, expiresIn: Duration.DurationInput = "30 days") =>
  Effect.gen(function*() {
    const repo = yield* AuthSessionRepo
    const now = yield* DateTime.now
    return yield* repo.insert({
      userId,
      tokenHash: crypto.randomUUID(),
      expiresAt: DateTime.addDuration(now, Duration.decode(expiresIn)),
      userAgent: "vitest",
      ip: "127.0.0.1"
    })
  })

export const addMedia = (authSessionId: Parameters<AuthSessionRepoShape["listMedia"]>[0], filePath: string) =>
  Effect.flatMap(AuthSessionRepo, (repo) => repo.addMedia({ authSessionId, kind: "image", filePath, sizeBytes: 10 }))

/** A therapist with a patient, and a booking helper whose hold lasts `hold` from the Clock's now. */
export const bookingSetup = Effect.gen(function*() {
  const therapist = yield* makeUser()
  const patient = yield* Effect.flatMap(
    PatientRepo,
    (repo) => repo.insert({ therapistId: therapist.id, name: "Pat", email: null, phone: null, notes: null })
  )
  let slot = 0
  const book = (hold: Duration.DurationInput = "15 minutes") =>
    Effect.gen(function*() {
      const now = yield* DateTime.now
      const start = DateTime.addDuration(T0, Duration.days(1 + slot++))
      return yield* Effect.flatMap(BookingRepo, (repo) =>
        repo.insert({
          therapistId: therapist.id,
          patientId: patient.id,
          startsAt: start,
          endsAt: DateTime.addDuration(start, Duration.hours(1)),
          holdExpiresAt: DateTime.addDuration(now, Duration.decode(hold))
        })).pipe(Effect.orDie)
    })
  return { therapist, patient, book }
})

/** What the decorated repositories saw: the batches the cleanup ran, and a hanging batch's fate. */
export class Resources extends Effect.Service<Resources>()("test/Resources", {
  effect: Effect.all({
    /** Calls of `deleteBatch`, one per batch the cleanup started. */
    batches: Ref.make(0),
    /** The row limit each `deleteBatch` call was given, in order. */
    limits: Ref.make<ReadonlyArray<number>>([]),
    /** Completed when a hanging `deleteBatch` has been entered. */
    entered: Deferred.make<void>(),
    /** Completed when the interruption of a run reaches the hanging `deleteBatch`. */
    interrupted: Deferred.make<void>()
  })
}) {}

export interface Decoration {
  /** The first `failFirst` calls of `deleteBatch`/`expireLapsedHolds` die as a lost database would. */
  readonly failFirst?: number
  /** The call of `deleteBatch` with this index (0 = the first) dies, after earlier batches committed. */
  readonly failAt?: number
  /** `deleteBatch` completes `Resources.entered`, then never returns (until interrupted). */
  readonly hang?: boolean
  /** Each batch takes this long on the Clock (advanced with TestClock). */
  readonly batchTakes?: Duration.DurationInput
  /** The n-th batch takes `batchTimes[n]` on the Clock (advanced with TestClock); later ones none. */
  readonly batchTimes?: ReadonlyArray<Duration.DurationInput>
}

/** Wraps `deleteBatch` of the repository the cleanup uses: counted, failing or hanging on demand. */
export const decorate = (decoration: Decoration = {}) =>
  Layer.effect(
    AuthSessionRepo,
    Effect.gen(function*() {
      const base = yield* AuthSessionRepo
      const resources = yield* Resources
      return AuthSessionRepo.of({
        ...base,
        deleteBatch: (selector, limit) =>
          Effect.gen(function*() {
            const n = yield* Ref.getAndUpdate(resources.batches, (c) => c + 1)
            yield* Ref.update(resources.limits, (limits) => [...limits, limit])
            if (decoration.hang) {
              yield* Deferred.succeed(resources.entered, undefined)
              return yield* Effect.never.pipe(
                Effect.onInterrupt(() => Deferred.succeed(resources.interrupted, undefined))
              )
            }
            if (n < (decoration.failFirst ?? 0) || n === decoration.failAt) {
              return yield* Effect.dieMessage("connection terminated unexpectedly")
            }
            if (decoration.batchTakes) yield* TestClock.adjust(decoration.batchTakes)
            const takes = decoration.batchTimes?.[n]
            if (takes !== undefined) yield* TestClock.adjust(takes)
            return yield* base.deleteBatch(selector, limit)
          })
      })
    })
  )

export const failingBookings = (failFirst: number) =>
  Layer.effect(
    BookingRepo,
    Effect.gen(function*() {
      const base = yield* BookingRepo
      const calls = yield* Ref.make(0)
      return BookingRepo.of({
        ...base,
        expireLapsedHolds: (now, limit) =>
          Effect.flatMap(
            Ref.getAndUpdate(calls, (c) => c + 1),
            (n) => n < failFirst ? Effect.dieMessage("deadlock detected") : base.expireLapsedHolds(now, limit)
          )
      })
    })
  )

/** The outbox writes a batch's events, then dies: a failure inside the batch's transaction after its writes. */
export const failingOutbox = Layer.effect(
  OutboxStore,
  Effect.map(OutboxStore, (base) =>
    OutboxStore.of({
      ...base,
      insertAll: (events) =>
        Effect.zipRight(base.insertAll(events), Effect.dieMessage("connection lost after the write"))
    }))
)

export type RepoLayer = Layer.Layer<
  AuthSessionRepo | BookingRepo | PatientRepo | UserRepo | OutboxStore | SqlClient.SqlClient
>

/** SessionCleanup over `repos`, with a recording media store and the given settings and decorations. */
export const cleanupLayer = <ROut>(
  repos: Layer.Layer<ROut | AuthSessionRepo | BookingRepo | PatientRepo | UserRepo | OutboxStore | SqlClient.SqlClient>,
  options: {
    readonly settings?: Partial<CleanupSettings>
    readonly decoration?: Decoration
    readonly failingBookings?: number
    readonly failingOutbox?: boolean
    /** Media paths the memory file store cannot remove. */
    readonly failingFiles?: ReadonlyArray<string>
  } = {}
) => {
  const decorated = Layer.mergeAll(
    decorate(options.decoration),
    options.failingBookings ? failingBookings(options.failingBookings) : Layer.empty,
    options.failingOutbox ? failingOutbox : Layer.empty
  ).pipe(Layer.provideMerge(Resources.Default), Layer.provideMerge(repos))
  return SessionCleanup.Default.pipe(
    Layer.provideMerge(
      Layer.mergeAll(
        Media.layerMemory({ failing: options.failingFiles ?? [] }),
        CleanupConfig.layerTest(options.settings)
      )
    ),
    Layer.provideMerge(decorated)
  )
}
