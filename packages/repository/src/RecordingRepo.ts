import type { AudioFormat, NotFound, RecordingCursorPosition, Sha256Hex, TranscriptSource } from "@clinic/domain"
import {
  allowedTransitions,
  ClinicalNotes,
  InvalidTransition,
  notFound,
  PatientId,
  Recording,
  RecordingId,
  RecordingNotes,
  RecordingStatus,
  Transcript,
  transition as applyTransition,
  UserId
} from "@clinic/domain"
import { withMethodSpans } from "@clinic/foundation"
import { iso } from "@clinic/foundation/Sql"
import { SqlClient, SqlSchema } from "@effect/sql"
import { Context, DateTime, Effect, Either, Layer, Option, Ref, Schema } from "effect"
import { MemoryDb, type Tables, withoutRows, withRow } from "./MemoryDb.js"

export interface NewRecording {
  readonly id: RecordingId
  readonly therapistId: UserId
  readonly patientId: PatientId
  readonly originalFilename: string
  readonly storedPath: string
  readonly format: AudioFormat
  readonly mimeType: string
  readonly sizeBytes: number
  readonly sha256: Sha256Hex
}

export interface RecordingQuery {
  readonly patientId?: PatientId | undefined
  readonly status?: RecordingStatus | undefined
  /** How many rows to read (a page's size plus one, to know whether another page follows). */
  readonly limit: number
  /** The last recording of the previous page. */
  readonly after?: RecordingCursorPosition | undefined
}

export interface TransitionRequest {
  readonly to: RecordingStatus
  /** Stored when `to` is `failed`. */
  readonly error?: string | undefined
  /** Narrows the statuses the recording may be in (compare-and-set for a worker's claim). */
  readonly from?: ReadonlyArray<RecordingStatus> | undefined
}

export interface NewTranscript {
  readonly recordingId: RecordingId
  readonly text: string
  readonly language: string | null
  readonly source: TranscriptSource
}

export interface RecordingRepoShape {
  /** Stores a recording in `uploaded`. */
  readonly insert: (recording: NewRecording) => Effect.Effect<Recording>
  readonly findById: (id: RecordingId) => Effect.Effect<Recording, NotFound>
  /** A therapist's own recording; another therapist's is as missing as a deleted one. */
  readonly findOwned: (therapistId: UserId, id: RecordingId) => Effect.Effect<Recording, NotFound>
  /** Newest first: (createdAt desc, id desc), after the keyset position when given. */
  readonly list: (therapistId: UserId, query: RecordingQuery) => Effect.Effect<ReadonlyArray<Recording>>
  /**
   * Moves a recording by the rules of `@clinic/domain` `transition` (attempts, error), atomically:
   * two workers claiming the same recording cannot both succeed.
   */
  readonly transition: (
    id: RecordingId,
    request: TransitionRequest
  ) => Effect.Effect<Recording, NotFound | InvalidTransition>
  /** Writes (or replaces) the transcript of a recording. */
  readonly saveTranscript: (transcript: NewTranscript) => Effect.Effect<Transcript>
  readonly findTranscript: (recordingId: RecordingId) => Effect.Effect<Option.Option<Transcript>>
  /** Writes (or replaces) the notes of a recording. */
  readonly saveNotes: (
    notes: { readonly recordingId: RecordingId; readonly notes: ClinicalNotes; readonly model: string }
  ) => Effect.Effect<RecordingNotes>
  readonly findNotes: (recordingId: RecordingId) => Effect.Effect<Option.Option<RecordingNotes>>
  /** Recordings in `status` of every therapist, oldest first (the pipeline's resume sweep). */
  readonly listByStatus: (status: RecordingStatus, limit: number) => Effect.Effect<ReadonlyArray<Recording>>
  /** Deletes a recording with its transcript and notes; returns it so the caller removes the file. */
  readonly delete: (therapistId: UserId, id: RecordingId) => Effect.Effect<Recording, NotFound>
}

const recordingNotFound = (id: string) => notFound("Recording", id)

/** The statuses from which `to` may be reached, narrowed by `from`. */
const sourcesOf = (request: TransitionRequest): ReadonlyArray<RecordingStatus> =>
  RecordingStatus.literals.filter((status) =>
    allowedTransitions[status].includes(request.to) && (request.from === undefined || request.from.includes(status))
  )

const invalid = (recording: Recording, request: TransitionRequest): InvalidTransition =>
  new InvalidTransition({
    message: request.from === undefined || !request.from.includes(recording.status)
      ? `The recording is ${recording.status}; it cannot move to ${request.to}` +
        (request.from === undefined ? "" : ` (expected ${request.from.join(" or ")})`)
      : `A recording cannot move from ${recording.status} to ${request.to}`,
    from: recording.status,
    to: request.to
  })

const NewRecordingRow = Schema.Struct({
  id: RecordingId,
  therapistId: UserId,
  patientId: PatientId,
  originalFilename: Schema.String,
  storedPath: Schema.String,
  format: Recording.fields.format,
  mimeType: Schema.String,
  sizeBytes: Schema.Number,
  sha256: Recording.fields.sha256
})

const makePg = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient

  const insertRow = SqlSchema.single({
    Request: Schema.Struct({
      ...NewRecordingRow.fields,
      status: RecordingStatus,
      error: Schema.Null,
      attempts: Schema.Number,
      createdAt: Schema.String,
      updatedAt: Schema.String
    }),
    Result: Recording,
    execute: (row) => sql`INSERT INTO recordings ${sql.insert(row)} RETURNING *`
  })
  const findOne = (where: ReturnType<typeof sql.and>) =>
    SqlSchema.findOne({
      Request: Schema.Void,
      Result: Recording,
      execute: () => sql`SELECT * FROM recordings WHERE ${where}`
    })(undefined)
  const findOr404 = (where: ReturnType<typeof sql.and>, id: string) =>
    findOne(where).pipe(
      Effect.flatMap(Option.match({ onNone: () => Effect.fail(recordingNotFound(id)), onSome: Effect.succeed })),
      Effect.catchTags({ SqlError: Effect.die, ParseError: Effect.die })
    )

  return RecordingRepo.of({
    insert: (recording) =>
      Effect.gen(function*() {
        const now = iso(yield* DateTime.now)
        return yield* insertRow({
          ...recording,
          status: "uploaded",
          error: null,
          attempts: 0,
          createdAt: now,
          updatedAt: now
        })
      }).pipe(Effect.orDie, Effect.withSpan("RecordingRepo.insert")),
    findById: (id) => findOr404(sql.and([sql`id = ${id}`]), id).pipe(Effect.withSpan("RecordingRepo.findById")),
    findOwned: (therapistId, id) =>
      findOr404(sql.and([sql`id = ${id}`, sql`therapist_id = ${therapistId}`]), id).pipe(
        Effect.withSpan("RecordingRepo.findOwned")
      ),
    list: (therapistId, query) =>
      SqlSchema.findAll({
        Request: Schema.Void,
        Result: Recording,
        execute: () =>
          sql`SELECT * FROM recordings WHERE ${
            sql.and([
              sql`therapist_id = ${therapistId}`,
              ...(query.patientId ? [sql`patient_id = ${query.patientId}`] : []),
              ...(query.status ? [sql`status = ${query.status}`] : []),
              ...(query.after
                ? [sql`(created_at, id) < (${iso(query.after.createdAt)}::timestamptz, ${query.after.id}::uuid)`]
                : [])
            ])
          } ORDER BY created_at DESC, id DESC LIMIT ${query.limit}`
      })(undefined).pipe(
        Effect.orDie,
        Effect.withSpan("RecordingRepo.list")
      ),
    transition: (id, request) =>
      Effect.gen(function*() {
        const now = iso(yield* DateTime.now)
        const sources = sourcesOf(request)
        const working = request.to === "transcribing" || request.to === "extracting"
        const error = request.to === "failed" ? (request.error ?? "Processing failed") : null
        const updated = sources.length === 0 ? Option.none() : yield* SqlSchema.findOne({
          Request: Schema.Void,
          Result: Recording,
          execute: () =>
            sql`UPDATE recordings
                SET status = ${request.to}, error = ${error}, attempts = attempts + ${working ? 1 : 0},
                    updated_at = ${now}
                WHERE id = ${id} AND status IN ${sql.in(sources)}
                RETURNING *`
        })(undefined)
        if (Option.isSome(updated)) return updated.value
        const current = yield* findOr404(sql.and([sql`id = ${id}`]), id)
        return yield* Effect.fail(invalid(current, request))
      }).pipe(
        Effect.catchTags({ SqlError: Effect.die, ParseError: Effect.die }),
        Effect.withSpan("RecordingRepo.transition", { attributes: { to: request.to } })
      ),
    saveTranscript: (transcript) =>
      Effect.gen(function*() {
        const now = iso(yield* DateTime.now)
        return yield* SqlSchema.single({
          Request: Schema.Void,
          Result: Transcript,
          execute: () =>
            sql`INSERT INTO recording_transcripts ${sql.insert({ ...transcript, createdAt: now })}
                ON CONFLICT (recording_id) DO UPDATE
                SET text = EXCLUDED.text, language = EXCLUDED.language, source = EXCLUDED.source,
                    created_at = EXCLUDED.created_at
                RETURNING *`
        })(undefined)
      }).pipe(Effect.orDie, Effect.withSpan("RecordingRepo.saveTranscript")),
    findTranscript: (recordingId) =>
      SqlSchema.findOne({
        Request: Schema.Void,
        Result: Transcript,
        execute: () => sql`SELECT * FROM recording_transcripts WHERE recording_id = ${recordingId}`
      })(undefined).pipe(Effect.orDie, Effect.withSpan("RecordingRepo.findTranscript")),
    saveNotes: ({ model, notes, recordingId }) =>
      Effect.gen(function*() {
        const now = iso(yield* DateTime.now)
        const json = JSON.stringify(yield* Schema.encode(ClinicalNotes)(notes))
        return yield* SqlSchema.single({
          Request: Schema.Void,
          Result: RecordingNotes,
          execute: () =>
            sql`INSERT INTO recording_notes (recording_id, notes, model, created_at)
                VALUES (${recordingId}, ${json}::jsonb, ${model}, ${now})
                ON CONFLICT (recording_id) DO UPDATE
                SET notes = EXCLUDED.notes, model = EXCLUDED.model, created_at = EXCLUDED.created_at
                RETURNING *`
        })(undefined)
      }).pipe(Effect.orDie, Effect.withSpan("RecordingRepo.saveNotes")),
    findNotes: (recordingId) =>
      SqlSchema.findOne({
        Request: Schema.Void,
        Result: RecordingNotes,
        execute: () => sql`SELECT * FROM recording_notes WHERE recording_id = ${recordingId}`
      })(undefined).pipe(Effect.orDie, Effect.withSpan("RecordingRepo.findNotes")),
    listByStatus: (status, limit) =>
      SqlSchema.findAll({
        Request: Schema.Void,
        Result: Recording,
        execute: () => sql`SELECT * FROM recordings WHERE status = ${status} ORDER BY created_at, id LIMIT ${limit}`
      })(undefined).pipe(Effect.orDie, Effect.withSpan("RecordingRepo.listByStatus")),
    delete: (therapistId, id) =>
      SqlSchema.findOne({
        Request: Schema.Void,
        Result: Recording,
        execute: () => sql`DELETE FROM recordings WHERE id = ${id} AND therapist_id = ${therapistId} RETURNING *`
      })(undefined).pipe(
        Effect.flatMap(Option.match({ onNone: () => Effect.fail(recordingNotFound(id)), onSome: Effect.succeed })),
        Effect.catchTags({ SqlError: Effect.die, ParseError: Effect.die }),
        Effect.withSpan("RecordingRepo.delete")
      )
  })
})

const newestFirst = (a: Recording, b: Recording) =>
  b.createdAt.epochMillis - a.createdAt.epochMillis || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)

const before = (recording: Recording, cursor: RecordingCursorPosition) =>
  recording.createdAt.epochMillis < cursor.createdAt.epochMillis ||
  (recording.createdAt.epochMillis === cursor.createdAt.epochMillis && recording.id < cursor.id)

const makeMemory = Effect.gen(function*() {
  const db = yield* MemoryDb
  const find = (id: string, predicate: (recording: Recording) => boolean = () => true) =>
    Effect.flatMap(Ref.get(db), (t) => {
      const recording = t.recordings.get(id)
      return recording && predicate(recording) ? Effect.succeed(recording) : Effect.fail(recordingNotFound(id))
    })

  return RecordingRepo.of({
    insert: (input) =>
      Effect.gen(function*() {
        const now = yield* DateTime.now
        const recording = new Recording({
          ...input,
          status: "uploaded",
          error: null,
          attempts: 0,
          createdAt: now,
          updatedAt: now
        })
        yield* Ref.update(db, (t) => ({ ...t, recordings: withRow(t.recordings, recording.id, recording) }))
        return recording
      }),
    findById: (id) => find(id),
    findOwned: (therapistId, id) => find(id, (r) => r.therapistId === therapistId),
    list: (therapistId, query) =>
      Effect.map(Ref.get(db), (t) =>
        [...t.recordings.values()]
          .filter((r) =>
            r.therapistId === therapistId &&
            (query.patientId === undefined || r.patientId === query.patientId) &&
            (query.status === undefined || r.status === query.status) &&
            (query.after === undefined || before(r, query.after))
          )
          .sort(newestFirst)
          .slice(0, query.limit)),
    transition: (id, request) =>
      Effect.gen(function*() {
        const now = yield* DateTime.now
        const result = yield* Ref.modify(db, (t): readonly [
          Either.Either<Recording, NotFound | InvalidTransition>,
          Tables
        ] => {
          const current = t.recordings.get(id)
          if (current === undefined) return [Either.left(recordingNotFound(id)), t] as const
          if (!sourcesOf(request).includes(current.status)) {
            return [Either.left(invalid(current, request)), t] as const
          }
          const next = Either.getOrThrow(applyTransition(current, request.to, now, request.error))
          return [Either.right(next), { ...t, recordings: withRow(t.recordings, id, next) }] as const
        })
        return yield* result
      }),
    saveTranscript: (input) =>
      Effect.gen(function*() {
        const transcript = new Transcript({ ...input, createdAt: yield* DateTime.now })
        yield* Ref.update(db, (t) => ({
          ...t,
          recordingTranscripts: withRow(t.recordingTranscripts, input.recordingId, transcript)
        }))
        return transcript
      }),
    findTranscript: (recordingId) =>
      Effect.map(Ref.get(db), (t) => Option.fromNullable(t.recordingTranscripts.get(recordingId))),
    saveNotes: (input) =>
      Effect.gen(function*() {
        const notes = new RecordingNotes({ ...input, createdAt: yield* DateTime.now })
        yield* Ref.update(db, (t) => ({ ...t, recordingNotes: withRow(t.recordingNotes, input.recordingId, notes) }))
        return notes
      }),
    findNotes: (recordingId) => Effect.map(Ref.get(db), (t) => Option.fromNullable(t.recordingNotes.get(recordingId))),
    listByStatus: (status, limit) =>
      Effect.map(Ref.get(db), (t) =>
        [...t.recordings.values()]
          .filter((r) => r.status === status)
          .sort((a, b) => -newestFirst(a, b))
          .slice(0, limit)),
    delete: (therapistId, id) =>
      Effect.flatten(Ref.modify(db, (t): readonly [Effect.Effect<Recording, NotFound>, Tables] => {
        const recording = t.recordings.get(id)
        if (recording === undefined || recording.therapistId !== therapistId) {
          return [Effect.fail(recordingNotFound(id)), t] as const
        }
        // One modify, as the Postgres cascade is one statement.
        return [Effect.succeed(recording), {
          ...t,
          recordings: withoutRows(t.recordings, [id]),
          recordingTranscripts: withoutRows(t.recordingTranscripts, [id]),
          recordingNotes: withoutRows(t.recordingNotes, [id])
        }] as const
      }))
  })
}).pipe(withMethodSpans("RecordingRepo"))

/** Therapy recordings with their transcript and notes (`recordings`, `recording_*` tables). */
export class RecordingRepo extends Context.Tag("@clinic/repository/RecordingRepo")<
  RecordingRepo,
  RecordingRepoShape
>() {
  static readonly layerPg: Layer.Layer<RecordingRepo, never, SqlClient.SqlClient> = Layer.effect(
    RecordingRepo,
    makePg
  )
  static readonly layerMemory: Layer.Layer<RecordingRepo, never, MemoryDb> = Layer.effect(
    RecordingRepo,
    makeMemory
  )
}
