import type {
  InvalidCursor,
  ListRecordingsParams,
  NotFound,
  RecordingId,
  RecordingNotes,
  RecordingPage,
  UserId
} from "@clinic/domain"
import {
  DEFAULT_PAGE_LIMIT,
  makeCursor,
  notFound,
  type Pagination,
  Recording,
  RecordingCursorPosition,
  toPage
} from "@clinic/domain"
import { RecordingRepo } from "@clinic/repository/RecordingRepo"
import { Effect, Option } from "effect"
import * as NoteExtractor from "./NoteExtractor.js"
import * as Transcriber from "./Transcriber.js"

const recordingCursor = makeCursor(RecordingCursorPosition)

/** What a therapist reads: their recordings as clients see them (with why one waits), and notes. */
export class RecordingQueries extends Effect.Service<RecordingQueries>()("@clinic/recordings/RecordingQueries", {
  effect: Effect.gen(function*() {
    const repo = yield* RecordingRepo
    const transcriber = yield* Transcriber.Transcriber
    const extractor = yield* NoteExtractor.NoteExtractor

    /**
     * Why a recording does not move on by itself, for clients: set while it waits in `uploaded`
     * (no transcriber) or `transcribed` (no note extractor).
     */
    const waitingReason = (recording: Recording): string | undefined =>
      recording.status === "uploaded" && transcriber.status._tag === "NotConfigured"
        ? transcriber.status.reason
        : recording.status === "transcribed" && extractor.status._tag === "NotConfigured"
        ? extractor.status.reason
        : undefined

    /** The recording with its `waitingReason`, as every route answers it. */
    const view = (recording: Recording): Recording => {
      const reason = waitingReason(recording)
      return reason === undefined ? recording : new Recording({ ...recording, waitingReason: reason })
    }

    return {
      waitingReason,
      view,
      /** Cursors are sealed by the app's one `Pagination`, as every list's are. */
      list: (
        therapistId: UserId,
        params: ListRecordingsParams
      ): Effect.Effect<RecordingPage, InvalidCursor, Pagination> =>
        Effect.gen(function*() {
          const after = yield* recordingCursor.decode(params.cursor)
          const limit = params.limit ?? DEFAULT_PAGE_LIMIT
          const rows = yield* repo.list(therapistId, {
            patientId: params.patientId,
            status: params.status,
            limit: limit + 1,
            after
          })
          return yield* toPage(
            rows.map(view),
            limit,
            (last) => recordingCursor.encode(new RecordingCursorPosition({ createdAt: last.createdAt, id: last.id }))
          )
        }).pipe(Effect.withSpan("RecordingQueries.list")),
      get: (therapistId: UserId, id: RecordingId): Effect.Effect<Recording, NotFound> =>
        repo.findOwned(therapistId, id).pipe(Effect.map(view), Effect.withSpan("RecordingQueries.get")),
      /** 404 until notes exist. */
      notes: (therapistId: UserId, id: RecordingId): Effect.Effect<RecordingNotes, NotFound> =>
        Effect.gen(function*() {
          yield* repo.findOwned(therapistId, id)
          const notes = yield* repo.findNotes(id)
          return yield* Option.match(notes, {
            onNone: () => Effect.fail(notFound("Notes of recording", id)),
            onSome: Effect.succeed
          })
        }).pipe(Effect.withSpan("RecordingQueries.notes"))
    } as const
  }),
  dependencies: [Transcriber.layer, NoteExtractor.layer]
}) {}
