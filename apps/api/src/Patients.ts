import type { CreatePatient, InvalidCursor, NotFound, Pagination, Patient, UpdatePatient, UserId } from "@clinic/domain"
import { DEFAULT_PAGE_LIMIT, makeCursor, PatientId, toPage } from "@clinic/domain"
import { withMethodSpans } from "@clinic/foundation"
import { type PatientPatch, PatientRepo } from "@clinic/repository"
import { Effect, Schema } from "effect"

// A field left out of a PATCH stays as it is; only `null` clears it.
const present = (patch: UpdatePatient): PatientPatch =>
  Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined))

const patientCursor = makeCursor(Schema.Struct({ createdAt: Schema.DateTimeUtc, id: PatientId }))

/** A therapist's own patients; everything is scoped by the caller's id, never by the request. */
export class Patients extends Effect.Service<Patients>()("@clinic/api/Patients", {
  effect: Effect.gen(function*() {
    const patients = yield* PatientRepo
    return {
      create: (therapistId: UserId, input: CreatePatient): Effect.Effect<Patient> =>
        patients.insert({
          therapistId,
          name: input.name,
          email: input.email ?? null,
          phone: input.phone ?? null,
          notes: input.notes ?? null
        }),
      get: (therapistId: UserId, id: PatientId): Effect.Effect<Patient, NotFound> =>
        patients.findOwned(therapistId, id),
      update: (therapistId: UserId, id: PatientId, patch: UpdatePatient): Effect.Effect<Patient, NotFound> =>
        patients.update(therapistId, id, present(patch)),
      list: (
        therapistId: UserId,
        page: { readonly limit?: number | undefined; readonly cursor?: string | undefined }
      ): Effect.Effect<
        { readonly items: ReadonlyArray<Patient>; readonly nextCursor: string | null },
        InvalidCursor,
        Pagination
      > =>
        Effect.gen(function*() {
          const after = yield* patientCursor.decode(page.cursor)
          const limit = page.limit ?? DEFAULT_PAGE_LIMIT
          const rows = yield* patients.list(therapistId, { limit: limit + 1, after })
          return yield* toPage(rows, limit, (last) => patientCursor.encode({ createdAt: last.createdAt, id: last.id }))
        })
    } as const
  }).pipe(withMethodSpans("Patients"))
}) {}
