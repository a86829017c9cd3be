import type { AudioFormat } from "@clinic/domain"
import { FileTooSmall, MissingField, PayloadTooLarge, UnsupportedMediaType } from "@clinic/domain"
import { FileSignature } from "@clinic/storage"
import { Either } from "effect"

/** Below this a "recording" cannot hold a second of audio: refused with 400. */
export const MIN_AUDIO_BYTES = 1024

/** The default upper bound (200 MiB); the configured one is `RecordingsConfig.maxUploadBytes`. */
export const DEFAULT_MAX_AUDIO_BYTES = 200 * 1024 * 1024

const MAX_FILENAME_LENGTH = 255

/** The MIME type stored with a recording, whatever alias the client declared. */
export const canonicalMimeType: { readonly [F in AudioFormat]: string } = {
  mp3: "audio/mpeg",
  wav: "audio/wav",
  m4a: "audio/mp4"
}

const extensions: ReadonlyMap<string, AudioFormat> = new Map([["mp3", "mp3"], ["wav", "wav"], ["m4a", "m4a"]])

/**
 * The filename as display metadata: only its last path segment, without control or bidi-override
 * characters, at most 255 characters. It is never used to build a path (the stored name is
 * generated) and reaches SQL only as a bound parameter, so `../`, quotes and `; DROP TABLE` are
 * inert text; consumers escape it for their own medium (JSON does, HTML must).
 */
export const sanitizeFilename = (raw: string): string => {
  const lastSegment = raw.split(/[/\\]/).pop() ?? ""
  // eslint-disable-next-line no-control-regex
  const printable = lastSegment.normalize("NFC").replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, "")
    .trim()
  const name = printable === "" || printable === "." || printable === ".." ? "recording" : printable
  return Array.from(name).slice(-MAX_FILENAME_LENGTH).join("")
}

/** The audio format named by the filename's extension (case-insensitive); anything else is 415. */
export const formatOfFilename = (filename: string): Either.Either<AudioFormat, UnsupportedMediaType> => {
  const name = sanitizeFilename(filename)
  const dot = name.lastIndexOf(".")
  const format = dot > 0 ? extensions.get(name.slice(dot + 1).toLowerCase()) : undefined
  return format
    ? Either.right(format)
    : Either.left(new UnsupportedMediaType({ message: "Only .mp3, .wav and .m4a recordings are accepted" }))
}

/**
 * The declared content type must be audio. Browsers disagree on the exact alias (`audio/x-wav`,
 * `audio/x-m4a`, `audio/mp3`...), and the bytes are checked anyway, so any `audio/*` passes.
 * `application/octet-stream` is what clients send when they do not know (curl does for `.m4a`
 * and `.mp3`): it declares nothing, so the extension and magic bytes decide.
 */
export const checkContentType = (contentType: string | undefined): Either.Either<void, UnsupportedMediaType> => {
  const essence = (contentType ?? "").split(";")[0].trim().toLowerCase()
  return /^audio\/[a-z0-9.+-]+$/.test(essence) || essence === "application/octet-stream"
    ? Either.void
    : Either.left(
      new UnsupportedMediaType({ message: `Declared content type "${essence || "none"}" is not an audio type` })
    )
}

/**
 * Whether the leading bytes are what the format's files start with (`@clinic/storage`
 * `FileSignature`): an ID3v2 tag or an MPEG frame sync for mp3, `RIFF....WAVE` for wav, an `ftyp`
 * box with an audio brand for m4a.
 */
export const checkMagic = (format: AudioFormat, head: Uint8Array): Either.Either<void, UnsupportedMediaType> =>
  FileSignature.matches(format, head)
    ? Either.void
    : Either.left(new UnsupportedMediaType({ message: `The file content is not ${format} audio` }))

export const tooLarge = (maxBytes: number) =>
  new PayloadTooLarge({ message: `Recordings may be at most ${maxBytes} bytes`, maxBytes })

export const tooSmall = new FileTooSmall({
  message: `Recordings must be at least ${MIN_AUDIO_BYTES} bytes`,
  minBytes: MIN_AUDIO_BYTES
})

export const checkSize = (
  sizeBytes: number,
  maxBytes: number
): Either.Either<void, FileTooSmall | PayloadTooLarge> =>
  sizeBytes > maxBytes
    ? Either.left(tooLarge(maxBytes))
    : sizeBytes < MIN_AUDIO_BYTES
    ? Either.left(tooSmall)
    : Either.void

/** What the upload declared, once it passed every check that needs no bytes. */
export interface DeclaredAudio {
  readonly format: AudioFormat
  readonly originalFilename: string
  readonly mimeType: string
}

/**
 * The checks on the multipart headers, before a byte is stored: a file part, an audio extension
 * and an audio content type.
 */
export const checkDeclared = (
  file: { readonly name: string | undefined; readonly contentType: string | undefined } | undefined
): Either.Either<DeclaredAudio, MissingField | UnsupportedMediaType> => {
  if (file === undefined || file.name === undefined || file.name.trim() === "") {
    return Either.left(new MissingField({ message: "The form needs a `file` part with a filename", field: "file" }))
  }
  return Either.gen(function*() {
    const format = yield* formatOfFilename(file.name!)
    yield* checkContentType(file.contentType)
    return { format, originalFilename: sanitizeFilename(file.name!), mimeType: canonicalMimeType[format] }
  })
}
