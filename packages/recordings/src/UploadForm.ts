import type { FileTooSmall, RecordingId } from "@clinic/domain"
import {
  InvalidField,
  MalformedUpload,
  MissingField,
  PatientId,
  PayloadTooLarge,
  UnsupportedMediaType
} from "@clinic/domain"
import type { Multipart } from "@effect/platform"
import { Effect, Either, Option, Ref, Schema, Stream } from "effect"
import type { DeclaredAudio } from "./AudioValidation.js"
import { checkDeclared } from "./AudioValidation.js"
import { RecordingsConfig } from "./RecordingsConfig.js"
import { RecordingStore, type StoredAudio } from "./RecordingStore.js"

/** A complete upload: who it is for, what the client declared, and where the bytes are. */
export interface ReceivedUpload {
  readonly patientId: PatientId
  readonly declared: DeclaredAudio
  readonly stored: StoredAudio
}

export type UploadError =
  | MissingField
  | InvalidField
  | MalformedUpload
  | UnsupportedMediaType
  | FileTooSmall
  | PayloadTooLarge

const PATIENT_FIELD = "patientId"
const FILE_FIELD = "file"

const decodePatientId = Schema.decodeUnknownEither(PatientId)

const fromMultipartError = (
  error: Multipart.MultipartError,
  maxBytes: number
): Effect.Effect<never, UploadError> => {
  switch (error.reason) {
    case "FileTooLarge":
    case "BodyTooLarge":
      return Effect.fail(new PayloadTooLarge({ message: `Recordings may be at most ${maxBytes} bytes`, maxBytes }))
    case "FieldTooLarge":
      return Effect.fail(new InvalidField({ message: "A form field is too large", field: "form" }))
    case "TooManyParts":
      return Effect.fail(new MalformedUpload({ message: "The form has too many parts" }))
    case "Parse":
      return Effect.fail(new MalformedUpload({ message: "The multipart body could not be parsed" }))
    case "InternalError":
      return Effect.die(error)
  }
}

/**
 * Reads the `POST /recordings` form (`patientId` and `file`, in either order) from the parts as they
 * arrive, streaming the file to the `RecordingStore` under `id`. `authorize` (the patient must be
 * the therapist's own) runs as soon as the patient id is known: before any byte is stored when
 * the field comes first, otherwise right after, and a refusal removes the stored file. Any
 * failure leaves no file behind.
 */
export const receive = <E, R>(
  parts: Stream.Stream<Multipart.Part, Multipart.MultipartError>,
  options: {
    readonly id: RecordingId
    readonly authorize: (patientId: PatientId) => Effect.Effect<void, E, R>
  }
): Effect.Effect<ReceivedUpload, UploadError | E, RecordingStore | RecordingsConfig | R> =>
  Effect.gen(function*() {
    const store = yield* RecordingStore
    const { maxUploadBytes } = yield* RecordingsConfig
    const patient = yield* Ref.make(Option.none<PatientId>())
    const file = yield* Ref.make(Option.none<{ readonly declared: DeclaredAudio; readonly stored: StoredAudio }>())

    const onPart = (part: Multipart.Part): Effect.Effect<void, UploadError | E | Multipart.MultipartError, R> =>
      Effect.gen(function*() {
        if (part._tag === "Field") {
          // The parser makes a file part a field when its type is JSON (the platform reads JSON
          // parts as fields) or when its headers lose their name and filename (a quoted filename
          // with characters beyond U+00FF, e.g. an emoji sent raw as UTF-8).
          if (part.key === FILE_FIELD) {
            return yield* new UnsupportedMediaType({
              message: `Declared content type "${part.contentType}" is not an audio type`
            })
          }
          if (part.key === "") {
            return yield* new InvalidField({
              message: "A part's headers could not be read: a filename with characters beyond U+00FF " +
                "must be sent as RFC 5987 `filename*`",
              field: FILE_FIELD
            })
          }
          if (part.key !== PATIENT_FIELD) return
          if (Option.isSome(yield* Ref.get(patient))) {
            return yield* new InvalidField({ message: "patientId was given twice", field: PATIENT_FIELD })
          }
          const patientId = yield* Either.mapLeft(
            decodePatientId(part.value.trim()),
            () => new InvalidField({ message: "patientId must be a UUID", field: PATIENT_FIELD })
          )
          yield* options.authorize(patientId)
          yield* Ref.set(patient, Option.some(patientId))
          return
        }
        if (part.key !== FILE_FIELD) {
          // Unknown files are read and discarded: the parser waits until each part is consumed.
          return yield* Stream.runDrain(part.content)
        }
        if (Option.isSome(yield* Ref.get(file))) {
          return yield* new InvalidField({ message: "Only one file may be uploaded", field: FILE_FIELD })
        }
        const declared = yield* checkDeclared({ name: part.name, contentType: part.contentType })
        const stored = yield* store.save({ id: options.id, format: declared.format, content: part.content })
        yield* Ref.set(file, Option.some({ declared, stored }))
      })

    const received = Effect.gen(function*() {
      yield* Stream.runForEach(parts, onPart)
      const upload = yield* Ref.get(file)
      if (Option.isNone(upload)) {
        return yield* new MissingField({ message: "The form needs a `file` part", field: FILE_FIELD })
      }
      const patientId = yield* Ref.get(patient)
      if (Option.isNone(patientId)) {
        return yield* new MissingField({ message: "The form needs a `patientId` field", field: PATIENT_FIELD })
      }
      return { patientId: patientId.value, ...upload.value }
    })

    return yield* received.pipe(
      Effect.catchIf(
        (error): error is Multipart.MultipartError =>
          typeof error === "object" && error !== null && (error as { _tag?: unknown })._tag === "MultipartError",
        (error) => fromMultipartError(error, maxUploadBytes)
      ),
      Effect.onExit((exit) =>
        exit._tag === "Success"
          ? Effect.void
          : Effect.flatMap(
            Ref.get(file),
            Option.match({
              onNone: () => Effect.void,
              onSome: ({ stored }) => store.remove(stored.storedPath)
            })
          )
      )
    )
  }).pipe(Effect.withSpan("UploadForm.receive"))
