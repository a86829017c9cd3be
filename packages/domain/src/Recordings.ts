import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, Multipart, OpenApi } from "@effect/platform"
import type { DateTime } from "effect"
import { Either, Option, Schema } from "effect"
import { Authentication } from "./Authentication.js"
import { InvalidTransition, NotFound, PayloadTooLarge, UnsupportedMediaType } from "./Errors.js"
import { InvalidCursor } from "./HttpErrors.js"
import { PatientId, UserId } from "./Ids.js"
import { docs, rateLimitHeaders } from "./OpenApiDocs.js"
import { Page, PageParams } from "./Pagination.js"
import { Timestamp } from "./Timestamp.js"

export const RecordingId = Schema.UUID.pipe(Schema.brand("RecordingId"))
export type RecordingId = typeof RecordingId.Type

export const RecordingStatus = Schema.Literal(
  "uploaded",
  "transcribing",
  "transcribed",
  "extracting",
  "completed",
  "failed"
)
export type RecordingStatus = typeof RecordingStatus.Type

export const AudioFormat = Schema.Literal("mp3", "wav", "m4a")
export type AudioFormat = typeof AudioFormat.Type

export const Sha256Hex = Schema.String.pipe(Schema.pattern(/^[0-9a-f]{64}$/), Schema.brand("Sha256Hex"))
export type Sha256Hex = typeof Sha256Hex.Type

/**
 * A therapy session recording. `originalFilename` is display metadata only (see
 * `AudioValidation.sanitizeFilename`): storage uses `storedPath`, a name the server generated.
 */
export class Recording extends Schema.Class<Recording>("Recording")({
  id: RecordingId,
  therapistId: UserId,
  patientId: PatientId,
  status: RecordingStatus,
  originalFilename: Schema.String,
  storedPath: Schema.String,
  format: AudioFormat,
  mimeType: Schema.String,
  sizeBytes: Schema.NonNegativeInt,
  sha256: Sha256Hex,
  error: Schema.NullOr(Schema.String),
  attempts: Schema.NonNegativeInt,
  createdAt: Timestamp,
  updatedAt: Timestamp,
  /**
   * Set by the API while the recording cannot move on by itself: e.g. no transcription provider is
   * configured, so it waits in `uploaded` (a therapist may `PUT` a transcript meanwhile).
   */
  waitingReason: Schema.optional(Schema.String)
}) {}

export const TranscriptSource = Schema.Literal("provider", "therapist")
export type TranscriptSource = typeof TranscriptSource.Type

export const TranscriptText = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(2_000_000))

export class Transcript extends Schema.Class<Transcript>("Transcript")({
  recordingId: RecordingId,
  text: TranscriptText,
  language: Schema.NullOr(Schema.String),
  source: TranscriptSource,
  createdAt: Timestamp
}) {}

export const RiskSeverity = Schema.Literal("low", "medium", "high")
export type RiskSeverity = typeof RiskSeverity.Type

export class Risk extends Schema.Class<Risk>("Risk")({
  description: Schema.String,
  severity: RiskSeverity
}) {}

/**
 * What the note extractor produces from a transcript. Also the JSON schema the provider is asked
 * to follow, so every field is required (strict structured output allows no optional fields).
 */
export class ClinicalNotes extends Schema.Class<ClinicalNotes>("ClinicalNotes")({
  summary: Schema.String,
  topics: Schema.Array(Schema.String),
  mood: Schema.String,
  risks: Schema.Array(Risk),
  followUpActions: Schema.Array(Schema.String)
}) {}

export class RecordingNotes extends Schema.Class<RecordingNotes>("RecordingNotes")({
  recordingId: RecordingId,
  notes: ClinicalNotes,
  model: Schema.String,
  createdAt: Timestamp
}) {}

// ---------------------------------------------------------------------------------------------
// Errors

export class FileTooSmall extends Schema.TaggedError<FileTooSmall>()(
  "FileTooSmall",
  { message: Schema.String, minBytes: Schema.Number },
  HttpApiSchema.annotations({ status: 400 })
) {}

export class MissingField extends Schema.TaggedError<MissingField>()(
  "MissingField",
  { message: Schema.String, field: Schema.String },
  HttpApiSchema.annotations({ status: 400 })
) {}

/** A form field that is present but unusable (a malformed patient id, a second file...). */
export class InvalidField extends Schema.TaggedError<InvalidField>()(
  "InvalidField",
  { message: Schema.String, field: Schema.String },
  HttpApiSchema.annotations({ status: 400 })
) {}

/** The multipart body itself could not be read. */
export class MalformedUpload extends Schema.TaggedError<MalformedUpload>()(
  "MalformedUpload",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 400 })
) {}

/** What a `RateLimited` answer limited: a recordings action, or logging in (`/auth/login`). */
export const RateLimitedAction = Schema.Literal("upload", "extract-notes", "login")
export type RateLimitedAction = typeof RateLimitedAction.Type

/** `retryAfter` is in whole seconds, as the `Retry-After` header wants it. */
export class RateLimited extends Schema.TaggedError<RateLimited>()(
  "RateLimited",
  {
    message: Schema.String,
    action: RateLimitedAction,
    limit: Schema.Number,
    windowSeconds: Schema.Number,
    retryAfter: Schema.Number
  },
  HttpApiSchema.annotations({ status: 429 })
) {}

export class TranscriptMissing extends Schema.TaggedError<TranscriptMissing>()(
  "TranscriptMissing",
  { message: Schema.String, recordingId: RecordingId },
  HttpApiSchema.annotations({ status: 409 })
) {}

// ---------------------------------------------------------------------------------------------
// Status transitions

/**
 * Which status may follow which. Entering `transcribing`/`extracting` again (from `failed`, or from
 * itself when a worker died mid-step) is a retry;
 * a therapist-supplied transcript moves any settled recording to `transcribed`; `transcribing`
 * may fall back to `uploaded` when no provider is configured.
 */
export const allowedTransitions: { readonly [S in RecordingStatus]: ReadonlyArray<RecordingStatus> } = {
  uploaded: ["transcribing", "transcribed", "failed"],
  transcribing: ["transcribing", "transcribed", "failed", "uploaded"],
  transcribed: ["extracting", "transcribed", "failed"],
  extracting: ["extracting", "completed", "failed", "transcribed"],
  completed: ["extracting", "transcribed"],
  failed: ["transcribing", "transcribed", "extracting"]
}

export const canTransition = (from: RecordingStatus, to: RecordingStatus): boolean =>
  allowedTransitions[from].includes(to)

/**
 * The recording after moving to `to` at `now`: entering a working status counts an attempt,
 * `failed` records the error, any other status clears it.
 */
export const transition = (
  recording: Recording,
  to: RecordingStatus,
  now: DateTime.Utc,
  error?: string
): Either.Either<Recording, InvalidTransition> => {
  if (!canTransition(recording.status, to)) {
    return Either.left(
      new InvalidTransition({
        message: `A recording cannot move from ${recording.status} to ${to}`,
        from: recording.status,
        to
      })
    )
  }
  const working = to === "transcribing" || to === "extracting"
  return Either.right(
    new Recording({
      ...recording,
      status: to,
      error: to === "failed" ? (error ?? "Processing failed") : null,
      attempts: working ? recording.attempts + 1 : recording.attempts,
      updatedAt: now
    })
  )
}

// ---------------------------------------------------------------------------------------------
// HTTP contract

/** Keyset position in (createdAt desc, id desc) order, sealed into an opaque cursor for clients. */
export class RecordingCursorPosition extends Schema.Class<RecordingCursorPosition>("RecordingCursorPosition")({
  createdAt: Schema.DateTimeUtc,
  id: RecordingId
}) {}

export const ListRecordingsParams = Schema.Struct({
  patientId: Schema.optional(PatientId),
  status: Schema.optional(RecordingStatus),
  ...PageParams
})
export type ListRecordingsParams = typeof ListRecordingsParams.Type

export const RecordingPage = Page(Recording, "RecordingPage")
export type RecordingPage = typeof RecordingPage.Type

export const RecordingPath = Schema.Struct({ id: RecordingId })

/**
 * The upload form: `patientId` and `file`. Declared as a multipart *stream* so that the handler
 * receives the parts as they arrive and writes the file to disk without buffering it; the handler
 * checks for missing parts itself (`MissingField`).
 */
export const UploadRecordingForm = HttpApiSchema.MultipartStream(
  Schema.Struct({ patientId: PatientId, file: Multipart.SingleFileSchema }),
  // The file's size is enforced while it is written (413), not by the parser.
  { maxParts: Option.some(8), maxFieldSize: 64 * 1024 }
)

export const SupplyTranscript = Schema.Struct({
  text: TranscriptText,
  language: Schema.optional(Schema.String)
})

export class RecordingsApi extends HttpApiGroup.make("recordings")
  .add(
    HttpApiEndpoint.post("upload", "/recordings").annotateContext(
      docs(
        "Upload a recording",
        "Multipart `patientId` and `file` (`.mp3`, `.wav` or `.m4a`, checked by content): streamed to storage under a generated name, then transcribed and summarised in the background. 201 with the recording in `uploaded`. Rate-limited per user (the `RateLimit` headers); a refused upload leaves no file."
      )
    )
      .setPayload(UploadRecordingForm)
      .addSuccess(Recording, { status: 201 })
      .addError(NotFound)
      .addError(MissingField)
      .addError(InvalidField)
      .addError(MalformedUpload)
      .addError(UnsupportedMediaType)
      .addError(FileTooSmall)
      .addError(PayloadTooLarge)
      .addError(RateLimited)
      .annotateContext(rateLimitHeaders)
  )
  .add(
    HttpApiEndpoint.get("list", "/recordings").annotateContext(
      docs(
        "List recordings",
        "The signed-in therapist's recordings, filtered by `patientId` and `status`, keyset-paginated (`limit`, `cursor`)."
      )
    )
      .setUrlParams(ListRecordingsParams)
      .addSuccess(RecordingPage)
      .addError(InvalidCursor)
  )
  .add(
    HttpApiEndpoint.get("get", "/recordings/:id").annotateContext(
      docs(
        "Get a recording",
        "One recording with its status, and why it waits (`waitingReason`) when no transcription provider is configured. Another therapist's is a 404."
      )
    )
      .setPath(RecordingPath)
      .addSuccess(Recording)
      .addError(NotFound)
  )
  .add(
    HttpApiEndpoint.del("remove", "/recordings/:id").annotate(OpenApi.Summary, "Delete a recording")
      .setPath(RecordingPath)
      .addSuccess(HttpApiSchema.NoContent)
      .addError(NotFound)
      .annotate(
        OpenApi.Description,
        "Deletes the recording with its audio file, transcript and notes. Another therapist's recording is a 404."
      )
  )
  .add(
    HttpApiEndpoint.get("notes", "/recordings/:id/notes").annotateContext(
      docs("Get the clinical notes", "The notes extracted from the recording's transcript; 404 until they exist.")
    )
      .setPath(RecordingPath)
      .addSuccess(RecordingNotes)
      .addError(NotFound)
  )
  .add(
    HttpApiEndpoint.post("extractNotes", "/recordings/:id/extract-notes").annotateContext(
      docs(
        "Extract the notes again",
        "Queues the notes step on the recording's transcript (202); 409 without a transcript. Rate-limited per user (the `RateLimit` headers)."
      )
    )
      .setPath(RecordingPath)
      .addSuccess(Recording, { status: 202 })
      .addError(NotFound)
      .addError(TranscriptMissing)
      .addError(InvalidTransition)
      .addError(RateLimited)
      .annotateContext(rateLimitHeaders)
  )
  .add(
    HttpApiEndpoint.put("supplyTranscript", "/recordings/:id/transcript").annotateContext(
      docs(
        "Supply a transcript",
        "Sets the recording's transcript by hand, instead of the provider's."
      )
    )
      .setPath(RecordingPath)
      .setPayload(SupplyTranscript)
      .addSuccess(Recording)
      .addError(NotFound)
      .addError(InvalidTransition)
  )
  .middleware(Authentication)
  .annotate(OpenApi.Title, "Recordings")
  .annotate(
    OpenApi.Description,
    "Therapy recordings: upload audio, get a transcript and clinical notes. " +
      "Uploads are accepted even when no transcription provider is configured: they wait in `uploaded` " +
      "until one is."
  )
{}
