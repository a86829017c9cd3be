import type { NotFound, RateLimited, Recording, UserId } from "@clinic/domain"
import { RecordingId } from "@clinic/domain"
import type { OutboxStore } from "@clinic/events"
import type { TaskStore } from "@clinic/queue"
import { PatientRepo } from "@clinic/repository/PatientRepo"
import { RecordingRepo } from "@clinic/repository/RecordingRepo"
import type { Multipart } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { Effect, type Stream } from "effect"
import * as Pipeline from "./Pipeline.js"
import type { RateLimitStatus } from "./RateLimiter.js"
import { RateLimiter } from "./RateLimiter.js"
import type { RecordingsConfig } from "./RecordingsConfig.js"
import { RecordingStore } from "./RecordingStore.js"
import { transactional } from "./Transaction.js"
import * as UploadForm from "./UploadForm.js"

/** A recording's life as a file: uploaded (with its pipeline started) and deleted. */
export class RecordingUploads extends Effect.Service<RecordingUploads>()("@clinic/recordings/RecordingUploads", {
  effect: Effect.gen(function*() {
    const transaction = transactional(yield* SqlClient.SqlClient)
    const repo = yield* RecordingRepo
    const patients = yield* PatientRepo
    const store = yield* RecordingStore
    const limiter = yield* RateLimiter
    const formContext = yield* Effect.context<RecordingStore | RecordingsConfig>()
    // The pipeline's first task and the `recording.uploaded` event go where the app keeps them.
    const pipelineContext = yield* Effect.context<TaskStore | OutboxStore>()

    return {
      /**
       * `POST /recordings`: the upload rate limit, then the form (see `UploadForm.receive`) with the
       * patient checked against the therapist, then, in one transaction, the row in `uploaded`, its
       * `recording.transcribe` task and its `recording.uploaded` event: the recording exists with its
       * pipeline started, or not at all (and its file is removed).
       */
      upload: (
        therapistId: UserId,
        parts: Stream.Stream<Multipart.Part, Multipart.MultipartError>
      ): Effect.Effect<
        { readonly recording: Recording; readonly rateLimit: RateLimitStatus },
        UploadForm.UploadError | NotFound | RateLimited
      > =>
        Effect.gen(function*() {
          const rateLimit = yield* limiter.consume(therapistId, "upload")
          const id = RecordingId.make(crypto.randomUUID())
          const received = yield* UploadForm.receive(parts, {
            id,
            authorize: (patientId) => Effect.asVoid(patients.findOwned(therapistId, patientId))
          }).pipe(Effect.provide(formContext))
          const recording = yield* repo.insert({
            id,
            therapistId,
            patientId: received.patientId,
            originalFilename: received.declared.originalFilename,
            storedPath: received.stored.storedPath,
            format: received.declared.format,
            mimeType: received.declared.mimeType,
            sizeBytes: received.stored.sizeBytes,
            sha256: received.stored.sha256
          }).pipe(
            Effect.tap(Pipeline.onUploaded),
            Effect.provide(pipelineContext),
            transaction,
            Effect.onError(() => store.remove(received.stored.storedPath))
          )
          return { recording, rateLimit }
        }).pipe(Effect.withSpan("RecordingUploads.upload")),
      /**
       * `DELETE /recordings/:id`: the row with its transcript and notes, then its audio file (a file
       * left behind by a crash in between is unreachable: its name is the deleted row's).
       */
      remove: (therapistId: UserId, id: RecordingId): Effect.Effect<void, NotFound> =>
        Effect.gen(function*() {
          const deleted = yield* repo.delete(therapistId, id)
          yield* store.remove(deleted.storedPath)
        }).pipe(Effect.withSpan("RecordingUploads.remove"))
    } as const
  }),
  dependencies: [RecordingStore.layer, RateLimiter.Default]
}) {}
