import type { NotFound } from "@clinic/domain"
import { notFound, Patient, PatientId, UserId } from "@clinic/domain"
import { withMethodSpans } from "@clinic/foundation"
import { iso } from "@clinic/foundation/Sql"
import { SqlClient, SqlSchema } from "@effect/sql"
import { Context, DateTime, Effect, Layer, Option, Ref, Schema } from "effect"
import { MemoryDb, withRow } from "./MemoryDb.js"

export interface NewPatient {
  readonly therapistId: UserId
  readonly name: string
  readonly email: string | null
  readonly phone: string | null
  readonly notes: string | null
}

export interface PatientPatch {
  readonly name?: string
  readonly email?: string | null
  readonly phone?: string | null
  readonly notes?: string | null
}

/** Keyset position: the last patient of the previous page, in (createdAt, id) order. */
export interface PatientCursor {
  readonly createdAt: DateTime.Utc
  readonly id: PatientId
}

export interface PatientRepoShape {
  readonly insert: (patient: NewPatient) => Effect.Effect<Patient>
  /** A therapist's own patient; another therapist's patient is as missing as a deleted one. */
  readonly findOwned: (therapistId: UserId, id: PatientId) => Effect.Effect<Patient, NotFound>
  readonly update: (therapistId: UserId, id: PatientId, patch: PatientPatch) => Effect.Effect<Patient, NotFound>
  readonly list: (
    therapistId: UserId,
    page: { readonly limit: number; readonly after?: PatientCursor | undefined }
  ) => Effect.Effect<ReadonlyArray<Patient>>
}

const patientNotFound = (id: string) => notFound("Patient", id)

const makePg = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient

  const insertRow = SqlSchema.single({
    Request: Schema.Struct({ ...Patient.fields, createdAt: Schema.String, updatedAt: Schema.String }),
    Result: Patient,
    execute: (row) => sql`INSERT INTO patients ${sql.insert(row)} RETURNING *`
  })
  const owned = SqlSchema.findOne({
    Request: Schema.Struct({ therapistId: UserId, id: PatientId }),
    Result: Patient,
    execute: ({ id, therapistId }) => sql`SELECT * FROM patients WHERE id = ${id} AND therapist_id = ${therapistId}`
  })

  return PatientRepo.of({
    insert: (patient) =>
      Effect.gen(function*() {
        const now = iso(yield* DateTime.now)
        return yield* insertRow({ id: PatientId.make(crypto.randomUUID()), ...patient, createdAt: now, updatedAt: now })
      }).pipe(Effect.orDie, Effect.withSpan("PatientRepo.insert")),
    findOwned: (therapistId, id) =>
      owned({ therapistId, id }).pipe(
        Effect.orDie,
        Effect.flatMap(Option.match({ onNone: () => Effect.fail(patientNotFound(id)), onSome: Effect.succeed })),
        Effect.withSpan("PatientRepo.findOwned")
      ),
    update: (therapistId, id, patch) =>
      Effect.gen(function*() {
        const now = iso(yield* DateTime.now)
        const changes = Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined))
        const rows = yield* SqlSchema.findOne({
          Request: Schema.Void,
          Result: Patient,
          execute: () =>
            sql`UPDATE patients SET ${sql.update({ ...changes, updatedAt: now })}
                WHERE id = ${id} AND therapist_id = ${therapistId} RETURNING *`
        })(undefined)
        return yield* Option.match(rows, { onNone: () => Effect.fail(patientNotFound(id)), onSome: Effect.succeed })
      }).pipe(
        Effect.catchTags({ SqlError: Effect.die, ParseError: Effect.die }),
        Effect.withSpan("PatientRepo.update")
      ),
    list: (therapistId, { after, limit }) =>
      SqlSchema.findAll({
        Request: Schema.Void,
        Result: Patient,
        execute: () =>
          sql`SELECT * FROM patients WHERE ${
            sql.and([
              sql`therapist_id = ${therapistId}`,
              ...(after ? [sql`(created_at, id) > (${iso(after.createdAt)}::timestamptz, ${after.id}::uuid)`] : [])
            ])
          } ORDER BY created_at, id LIMIT ${limit}`
      })(undefined).pipe(Effect.orDie, Effect.withSpan("PatientRepo.list"))
  })
})

const makeMemory = Effect.gen(function*() {
  const db = yield* MemoryDb
  const ownedIn = (patients: ReadonlyMap<string, Patient>, therapistId: UserId, id: PatientId) => {
    const patient = patients.get(id)
    return patient && patient.therapistId === therapistId ? patient : undefined
  }
  const cursorOrder = (a: { createdAt: DateTime.Utc; id: string }, b: { createdAt: DateTime.Utc; id: string }) =>
    DateTime.toEpochMillis(a.createdAt) - DateTime.toEpochMillis(b.createdAt) ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

  return PatientRepo.of({
    insert: (input) =>
      Effect.gen(function*() {
        const now = yield* DateTime.now
        const patient = new Patient({
          id: PatientId.make(crypto.randomUUID()),
          ...input,
          createdAt: now,
          updatedAt: now
        })
        yield* Ref.update(db, (t) => ({ ...t, patients: withRow(t.patients, patient.id, patient) }))
        return patient
      }),
    findOwned: (therapistId, id) =>
      Effect.flatMap(Ref.get(db), (t) => {
        const patient = ownedIn(t.patients, therapistId, id)
        return patient ? Effect.succeed(patient) : Effect.fail(patientNotFound(id))
      }),
    update: (therapistId, id, patch) =>
      Effect.gen(function*() {
        const now = yield* DateTime.now
        const updated = yield* Ref.modify(db, (t) => {
          const patient = ownedIn(t.patients, therapistId, id)
          if (!patient) return [undefined, t] as const
          const changes = Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined))
          const next = new Patient({ ...patient, ...changes, updatedAt: now })
          return [next, { ...t, patients: withRow(t.patients, id, next) }] as const
        })
        return updated ?? (yield* Effect.fail(patientNotFound(id)))
      }),
    list: (therapistId, { after, limit }) =>
      Effect.map(Ref.get(db), (t) =>
        [...t.patients.values()]
          .filter((p) => p.therapistId === therapistId && (!after || cursorOrder(p, after) > 0))
          .sort(cursorOrder)
          .slice(0, limit))
  })
}).pipe(withMethodSpans("PatientRepo"))

export class PatientRepo extends Context.Tag("@clinic/repository/PatientRepo")<PatientRepo, PatientRepoShape>() {
  static readonly layerPg = Layer.effect(PatientRepo, makePg)
  static readonly layerMemory = Layer.effect(PatientRepo, makeMemory)
}
