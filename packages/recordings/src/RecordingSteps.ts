import type { InvalidTransition, NotFound, Recording, RecordingId, RecordingStatus, UserId } from "@clinic/domain"
import { RecordingRepo } from "@clinic/repository/RecordingRepo"
import { SqlClient } from "@effect/sql"
import { Effect, Option } from "effect"
import * as NoteExtractor from "./NoteExtractor.js"
import type { ProviderError, ProviderUnavailable } from "./ProviderErrors.js"
import { RecordingsConfig } from "./RecordingsConfig.js"
import { RecordingStore } from "./RecordingStore.js"
import { transactional } from "./Transaction.js"
import * as Transcriber from "./Transcriber.js"

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

/**
 * The pipeline's steps, each idempotent per recording: transcription (by a provider, or supplied by
 * the therapist) and note extraction. A step that ends `Done` runs `next` in the transaction that
 * records its result, so the following step is queued exactly when the result is saved.
 */
export class RecordingSteps extends Effect.Service<RecordingSteps>()("@clinic/recordings/RecordingSteps", {
  effect: Effect.gen(function*() {
    const transaction = transactional(yield* SqlClient.SqlClient)
    const repo = yield* RecordingRepo
    const store = yield* RecordingStore
    const transcriber = yield* Transcriber.Transcriber
    const extractor = yield* NoteExtractor.NoteExtractor
    const { deleteAudioAfterNotes } = yield* RecordingsConfig

    const claim = (id: RecordingId, to: "transcribing" | "extracting", from: ReadonlyArray<RecordingStatus>) =>
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

    /** Moves to `to` from `from` and runs `next` in one transaction; `Skipped` if it moved on. */
    const finish = <R>(
      id: RecordingId,
      to: RecordingStatus,
      from: ReadonlyArray<RecordingStatus>,
      next: (recording: Recording) => Effect.Effect<void, never, R>,
      skipped: string
    ) =>
      repo.transition(id, { to, from }).pipe(
        Effect.tap(next),
        Effect.option,
        transaction,
        Effect.map(Option.match({
          onNone: (): StepOutcome => ({ _tag: "Skipped", reason: skipped }),
          onSome: (recording): StepOutcome => ({ _tag: "Done", recording })
        }))
      )

    /** The transcription step; fails only when a retry may help. */
    const transcribe = <R>(id: RecordingId, next: (recording: Recording) => Effect.Effect<void, never, R>) =>
      Effect.gen(function*() {
        if (transcriber.status._tag === "NotConfigured") {
          return { _tag: "Waiting", reason: transcriber.status.reason } as StepOutcome
        }
        // A therapist supplied the transcript meanwhile, or a previous run saved it and then lost its
        // acknowledgement: the provider is not asked (and billed) again.
        if (Option.isSome(yield* repo.findTranscript(id))) {
          return yield* finish(
            id,
            "transcribed",
            ["uploaded", "transcribing", "failed"],
            next,
            "the recording is already transcribed"
          )
        }
        const claimed = yield* claim(id, "transcribing", ["uploaded", "transcribing", "failed"])
        if (Option.isNone(claimed)) {
          return { _tag: "Skipped", reason: "the recording is gone or already transcribed" } as StepOutcome
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
        return yield* finish(id, "transcribed", ["transcribing"], next, "the recording moved on meanwhile")
      }).pipe(Effect.withSpan("RecordingSteps.transcribe", { attributes: { id } }))

    /** The note extraction step; fails only when a retry may help. */
    const extract = (id: RecordingId): Effect.Effect<StepOutcome, ProviderUnavailable> =>
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
        const outcome = yield* repo.saveNotes({ recordingId: id, notes: result.right.notes, model: result.right.model })
          .pipe(
            Effect.zipRight(
              finish(id, "completed", ["extracting"], () => Effect.void, "the recording moved on meanwhile")
            ),
            transaction
          )
        // The transcript stays, so a later step never needs the audio again.
        if (deleteAudioAfterNotes && outcome._tag === "Done") yield* store.remove(outcome.recording.storedPath)
        return outcome
      }).pipe(Effect.withSpan("RecordingSteps.extract", { attributes: { id } }))

    return {
      transcribe,
      extract,
      /** For the queue once retries are exhausted: the recording becomes `failed` with `message`. */
      markFailed: (id: RecordingId, message: string): Effect.Effect<Recording, NotFound | InvalidTransition> =>
        repo.transition(id, { to: "failed", error: message }).pipe(Effect.withSpan("RecordingSteps.markFailed")),
      /** `PUT /recordings/:id/transcript`: the therapist's own transcript replaces any other. */
      supplyTranscript: (
        therapistId: UserId,
        id: RecordingId,
        { language, text }: { readonly text: string; readonly language?: string | undefined }
      ): Effect.Effect<Recording, NotFound | InvalidTransition> =>
        Effect.gen(function*() {
          yield* repo.findOwned(therapistId, id)
          yield* repo.saveTranscript({ recordingId: id, text, language: language ?? null, source: "therapist" })
          return yield* repo.transition(id, { to: "transcribed" })
        }).pipe(transaction, Effect.withSpan("RecordingSteps.supplyTranscript"))
    } as const
  }),
  dependencies: [Transcriber.layer, NoteExtractor.layer, RecordingStore.layer]
}) {}
