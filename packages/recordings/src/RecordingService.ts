import type { ListRecordingsParams, NotFound, RateLimited, Recording, RecordingNotes, UserId } from "@clinic/domain"
import {
  canTransition,
  InvalidTransition,
  notFound,
  RecordingCursor,
  RecordingId,
  RecordingPage,
  type RecordingStatus,
  TranscriptMissing
} from "@clinic/domain"
import { PatientRepo } from "@clinic/repository/PatientRepo"
import type { Multipart } from "@effect/platform"
import { Context, Effect, Layer, Option, Schema, type Stream } from "effect"
import { NoteExtractor } from "./NoteExtractor.js"
import type { ProviderError, ProviderUnavailable } from "./ProviderErrors.js"
import type { RateLimitStatus } from "./RateLimiter.js"
import { RateLimiter } from "./RateLimiter.js"
import { RecordingRepo } from "./RecordingRepo.js"
import { RecordingsConfig } from "./RecordingsConfig.js"
import { RecordingStore } from "./RecordingStore.js"
import { Transcriber } from "./Transcriber.js"
import { UnitOfWork } from "./UnitOfWork.js"
import * as UploadForm from "./UploadForm.js"

/**
 * How a pipeline step ended, for the task that ran it. `Done` means the next step may be queued
 * (`extract` after `transcribe`); `Skipped` that the work was already done or is no longer wanted
 * (a crash between the provider's answer and the queue's acknowledgement must not bill twice);
 * `Waiting` that no provider is configured (nothing spent; run again once one is); `Failed` that
 * the provider refused for good and the recording is now `failed`.
 */
export type StepOutcome =
  | { readonly _tag: "Done"; readonly recording: Recording }
  | { readonly _tag: "Skipped"; readonly reason: string }
  | { readonly _tag: "Waiting"; readonly reason: string }
  | { readonly _tag: "Failed"; readonly recording: Recording }

export interface RecordingServiceShape {
  /**
   * `POST /sessions`: the upload rate limit, then the form (see `UploadForm.receive`) with the
   * patient checked against the therapist, then a row in `uploaded`. The caller queues `transcribe`.
   */
  readonly upload: (
    therapistId: UserId,
    parts: Stream.Stream<Multipart.Part, Multipart.MultipartError>,
    /**
     * Runs in the unit of work of the row's insert (queue `transcribe`, publish the event): the
     * recording exists with its pipeline started, or not at all (and its file is removed).
     */
    afterInsert?: (recording: Recording) => Effect.Effect<void>
  ) => Effect.Effect<
    { readonly recording: Recording; readonly rateLimit: RateLimitStatus },
    UploadForm.UploadError | NotFound | RateLimited
  >
  readonly list: (therapistId: UserId, params: ListRecordingsParams) => Effect.Effect<RecordingPage>
  readonly get: (therapistId: UserId, id: RecordingId) => Effect.Effect<Recording, NotFound>
  /** 404 until notes exist. */
  readonly notes: (therapistId: UserId, id: RecordingId) => Effect.Effect<RecordingNotes, NotFound>
  /**
   * `POST /sessions/:id/extract-notes`: 404 for another therapist's recording, 409 without a
   * transcript (or while extraction runs), then the extract-notes rate limit. The caller queues
   * `extract`.
   */
  readonly requestNotes: (
    therapistId: UserId,
    id: RecordingId
  ) => Effect.Effect<
    { readonly recording: Recording; readonly rateLimit: RateLimitStatus },
    NotFound | TranscriptMissing | InvalidTransition | RateLimited
  >
  /** `PUT /sessions/:id/transcript`: the therapist's own transcript replaces any other. */
  readonly supplyTranscript: (
    therapistId: UserId,
    id: RecordingId,
    transcript: { readonly text: string; readonly language?: string | undefined }
  ) => Effect.Effect<Recording, NotFound | InvalidTransition>
  /** Deletes the recording, its transcript and notes, then its audio file. */
  readonly remove: (therapistId: UserId, id: RecordingId) => Effect.Effect<void, NotFound>
  /** The transcription step, idempotent per recording; fails only when a retry may help. */
  readonly transcribe: (id: RecordingId) => Effect.Effect<StepOutcome, ProviderUnavailable>
  /** The note extraction step, idempotent per recording; fails only when a retry may help. */
  readonly extract: (id: RecordingId) => Effect.Effect<StepOutcome, ProviderUnavailable>
  /** For the queue once retries are exhausted: the recording becomes `failed` with `message`. */
  readonly markFailed: (id: RecordingId, message: string) => Effect.Effect<Recording, NotFound | InvalidTransition>
  /**
   * Why a recording does not move on by itself, for clients: set while it waits in `uploaded`
   * (no transcriber) or `transcribed` (no note extractor).
   */
  readonly waitingReason: (recording: Recording) => string | undefined
}

export class RecordingService extends Context.Tag("@clinic/recordings/RecordingService")<
  RecordingService,
  RecordingServiceShape
>() {}

const encodeCursor = Schema.encodeSync(RecordingCursor)

export const make = Effect.gen(function*() {
  const repo = yield* RecordingRepo
  const store = yield* RecordingStore
  const limiter = yield* RateLimiter
  const patients = yield* PatientRepo
  const transcriber = yield* Transcriber
  const extractor = yield* NoteExtractor
  const storeContext = yield* Effect.context<RecordingStore | RecordingsConfig>()
  const { deleteAudioAfterNotes } = yield* RecordingsConfig
  const unit = yield* UnitOfWork

  const upload: RecordingServiceShape["upload"] = (therapistId, parts, afterInsert) =>
    Effect.gen(function*() {
      const rateLimit = yield* limiter.consume(therapistId, "upload")
      const id = RecordingId.make(crypto.randomUUID())
      const received = yield* UploadForm.receive(parts, {
        id,
        authorize: (patientId) => Effect.asVoid(patients.findOwned(therapistId, patientId))
      }).pipe(Effect.provide(storeContext))
      const recording = yield* unit.transaction(Effect.tap(
        repo.insert({
          id,
          therapistId,
          patientId: received.patientId,
          originalFilename: received.declared.originalFilename,
          storedPath: received.stored.storedPath,
          format: received.declared.format,
          mimeType: received.declared.mimeType,
          sizeBytes: received.stored.sizeBytes,
          sha256: received.stored.sha256
        }),
        (recording) => afterInsert === undefined ? Effect.void : afterInsert(recording)
      )).pipe(Effect.onError(() => store.remove(received.stored.storedPath)))
      return { recording, rateLimit }
    }).pipe(Effect.withSpan("RecordingService.upload"))

  const claim = (id: RecordingId, to: "transcribing" | "extracting", from: ReadonlyArray<Recording["status"]>) =>
    repo.transition(id, { to, from }).pipe(Effect.option)

  const failFor = (id: RecordingId, message: string) =>
    repo.transition(id, { to: "failed", error: message }).pipe(
      Effect.map((recording): StepOutcome => ({ _tag: "Failed", recording })),
      Effect.orElseSucceed((): StepOutcome => ({ _tag: "Skipped", reason: "the recording moved on meanwhile" }))
    )

  /**
   * What a provider's failure means for a step: unavailable is retried by the queue; not configured
   * puts the recording back where the step found it, to wait; rejected fails it for good.
   */
  const onProviderError = (
    id: RecordingId,
    error: ProviderError,
    step: { readonly working: RecordingStatus; readonly before: RecordingStatus }
  ): Effect.Effect<StepOutcome, ProviderUnavailable> => {
    switch (error._tag) {
      case "ProviderUnavailable":
        return Effect.fail(error)
      case "ProviderNotConfigured":
        return repo.transition(id, { to: step.before, from: [step.working] }).pipe(
          Effect.ignore,
          Effect.as<StepOutcome>({ _tag: "Waiting", reason: error.message })
        )
      case "ProviderRejected":
        return failFor(id, error.message)
    }
  }

  const transcribe: RecordingServiceShape["transcribe"] = (id) =>
    Effect.gen(function*() {
      if (transcriber.status._tag === "NotConfigured") {
        return { _tag: "Waiting", reason: transcriber.status.reason } as const
      }
      // A therapist supplied the transcript meanwhile, or a previous run saved it and then lost its
      // acknowledgement: the provider is not asked (and billed) again.
      if (Option.isSome(yield* repo.findTranscript(id))) {
        const done = yield* repo.transition(id, { to: "transcribed", from: ["uploaded", "transcribing", "failed"] })
          .pipe(Effect.option)
        return Option.match(done, {
          onNone: (): StepOutcome => ({ _tag: "Skipped", reason: "the recording is already transcribed" }),
          onSome: (recording): StepOutcome => ({ _tag: "Done", recording })
        })
      }
      const claimed = yield* claim(id, "transcribing", ["uploaded", "transcribing", "failed"])
      if (Option.isNone(claimed)) {
        return { _tag: "Skipped", reason: "the recording is gone or already transcribed" } as const
      }
      const recording = claimed.value
      const result = yield* transcriber.transcribe({
        content: store.read(recording.storedPath),
        sizeBytes: recording.sizeBytes,
        format: recording.format
      }).pipe(Effect.either)
      if (result._tag === "Left") {
        return yield* onProviderError(id, result.left, { working: "transcribing", before: "uploaded" })
      }
      yield* repo.saveTranscript({
        recordingId: id,
        text: result.right.text,
        language: result.right.language,
        source: "provider"
      })
      const done = yield* repo.transition(id, { to: "transcribed", from: ["transcribing"] }).pipe(Effect.option)
      return Option.match(done, {
        onNone: (): StepOutcome => ({ _tag: "Skipped", reason: "the recording moved on meanwhile" }),
        onSome: (recording): StepOutcome => ({ _tag: "Done", recording })
      })
    }).pipe(Effect.withSpan("RecordingService.transcribe", { attributes: { id } }))

  const extract: RecordingServiceShape["extract"] = (id) =>
    Effect.gen(function*() {
      if (extractor.status._tag === "NotConfigured") {
        return { _tag: "Waiting", reason: extractor.status.reason } as const
      }
      const transcript = yield* repo.findTranscript(id)
      if (Option.isNone(transcript)) return { _tag: "Skipped", reason: "the recording has no transcript" } as const
      const claimed = yield* claim(id, "extracting", ["transcribed", "extracting", "completed", "failed"])
      if (Option.isNone(claimed)) return { _tag: "Skipped", reason: "the recording is gone or busy" } as const
      const result = yield* extractor.extract(transcript.value.text).pipe(Effect.either)
      if (result._tag === "Left") {
        return yield* onProviderError(id, result.left, { working: "extracting", before: "transcribed" })
      }
      yield* repo.saveNotes({ recordingId: id, notes: result.right.notes, model: result.right.model })
      const done = yield* repo.transition(id, { to: "completed", from: ["extracting"] }).pipe(Effect.option)
      // The transcript stays, so a later step never needs the audio again.
      if (deleteAudioAfterNotes && Option.isSome(done)) yield* store.remove(done.value.storedPath)
      return Option.match(done, {
        onNone: (): StepOutcome => ({ _tag: "Skipped", reason: "the recording moved on meanwhile" }),
        onSome: (recording): StepOutcome => ({ _tag: "Done", recording })
      })
    }).pipe(Effect.withSpan("RecordingService.extract", { attributes: { id } }))

  return RecordingService.of({
    upload,
    list: (therapistId, params) =>
      repo.list(therapistId, {
        patientId: params.patient_id,
        status: params.status,
        limit: params.limit,
        after: params.cursor
      }).pipe(
        Effect.map((page) =>
          new RecordingPage({
            items: page.items,
            nextCursor: Option.getOrNull(Option.map(page.next, encodeCursor))
          })
        )
      ),
    get: (therapistId, id) => repo.findOwned(therapistId, id),
    notes: (therapistId, id) =>
      Effect.gen(function*() {
        yield* repo.findOwned(therapistId, id)
        const notes = yield* repo.findNotes(id)
        return yield* Option.match(notes, {
          onNone: () => Effect.fail(notFound("Notes of recording", id)),
          onSome: Effect.succeed
        })
      }),
    requestNotes: (therapistId, id) =>
      Effect.gen(function*() {
        const recording = yield* repo.findOwned(therapistId, id)
        if (Option.isNone(yield* repo.findTranscript(id))) {
          return yield* new TranscriptMissing({
            message: "The recording has no transcript yet: wait for transcription or supply one",
            recordingId: id
          })
        }
        if (recording.status === "extracting" || !canTransition(recording.status, "extracting")) {
          return yield* new InvalidTransition({
            message: recording.status === "extracting"
              ? "Notes are already being extracted"
              : `Notes cannot be extracted while the recording is ${recording.status}`,
            from: recording.status,
            to: "extracting"
          })
        }
        const rateLimit = yield* limiter.consume(therapistId, "extract-notes")
        return { recording, rateLimit }
      }).pipe(Effect.withSpan("RecordingService.requestNotes")),
    supplyTranscript: (therapistId, id, { language, text }) =>
      Effect.gen(function*() {
        yield* repo.findOwned(therapistId, id)
        yield* repo.saveTranscript({ recordingId: id, text, language: language ?? null, source: "therapist" })
        return yield* repo.transition(id, { to: "transcribed" })
      }).pipe(Effect.withSpan("RecordingService.supplyTranscript")),
    remove: (therapistId, id) =>
      Effect.gen(function*() {
        const deleted = yield* repo.delete(therapistId, id)
        yield* store.remove(deleted.storedPath)
      }).pipe(Effect.withSpan("RecordingService.remove")),
    transcribe,
    extract,
    markFailed: (id, message) => repo.transition(id, { to: "failed", error: message }),
    waitingReason: (recording) =>
      recording.status === "uploaded" && transcriber.status._tag === "NotConfigured"
        ? transcriber.status.reason
        : recording.status === "transcribed" && extractor.status._tag === "NotConfigured"
        ? extractor.status.reason
        : undefined
  })
})

export const layer = Layer.effect(RecordingService, make)
