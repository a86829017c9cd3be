import { InvalidUpload, PayloadTooLarge, PublicAuthSessionMedia, UnsupportedMediaType } from "@clinic/domain"
import type { AuthSession } from "@clinic/domain"
import { withMethodSpans } from "@clinic/foundation"
import { AuthSessionRepo, Storage } from "@clinic/repository"
import { FileSignature, FileStores } from "@clinic/storage"
import { Multipart } from "@effect/platform"
import { Effect, Option, Stream } from "effect"
import { ApiConfig } from "../ApiConfig.js"

export type UploadError = PayloadTooLarge | UnsupportedMediaType | InvalidUpload

// Room for the multipart boundaries and part headers around the file itself.
const ENVELOPE_BYTES = 64 * 1024

/** The images and videos accepted, recognised by their signatures alone. */
const MEDIA_FORMATS = ["png", "jpeg", "gif", "webp", "mp4", "quicktime", "webm"] as const
type Detected = FileSignature.Detected<typeof MEDIA_FORMATS[number]>
const detect = (head: Uint8Array) => FileSignature.detect(head, MEDIA_FORMATS)
const SNIFF_BYTES = FileSignature.SNIFF_BYTES

interface Written {
  readonly size: number
  readonly head: Uint8Array
  readonly detected: Detected | undefined
}

/**
 * Images and videos sent during an auth session: each is streamed to the media file store under a
 * server-generated name, checked by its magic bytes and size while it arrives, then recorded with
 * `AuthSessionRepo.addMedia`. Files of deleted sessions are removed through `remove`.
 */
export class AuthSessionMediaUploads
  extends Effect.Service<AuthSessionMediaUploads>()("@clinic/api/AuthSessionMediaUploads", {
    effect: Effect.gen(function*() {
      const sessions = yield* AuthSessionRepo
      const { dir, maxBytes } = (yield* ApiConfig).authSessionMedia
      const files = yield* (yield* FileStores.FileStores).open({ name: Storage.AUTH_SESSION_MEDIA_STORE, dir })

      const tooLarge = new PayloadTooLarge({ message: `A media file has at most ${maxBytes} bytes`, maxBytes })
      const unsupported = new UnsupportedMediaType({
        message: "Only PNG, JPEG, GIF and WebP images and MP4, WebM and QuickTime videos are accepted"
      })
      const fromMultipart = (error: Multipart.MultipartError): UploadError =>
        error.reason === "FileTooLarge" || error.reason === "BodyTooLarge"
          ? tooLarge
          : new InvalidUpload({ message: `The multipart body cannot be read (${error.reason})`, field: "file" })

      // The checks run on the bytes as they pass to the store, failing as soon as the file is too
      // large or its first bytes are not an accepted type, so that a rejected upload is not read to
      // its end (and the store leaves nothing behind).
      const put = (content: Stream.Stream<Uint8Array, Multipart.MultipartError>) =>
        Effect.gen(function*() {
          let written: Written = { size: 0, head: new Uint8Array(0), detected: undefined }
          const checked = Stream.mapEffect(Stream.mapError(content, fromMultipart), (chunk) =>
            Effect.gen(function*() {
              const size = written.size + chunk.length
              if (size > maxBytes) return yield* Effect.fail(tooLarge)
              const head = FileSignature.appendHead(written.head, chunk)
              const detected = written.detected ?? (head.length >= SNIFF_BYTES ? detect(head) : undefined)
              if (head.length >= SNIFF_BYTES && detected === undefined) return yield* Effect.fail(unsupported)
              written = { size, head, detected }
              return chunk
            }))
          // A file shorter than the sniffed bytes is judged on what it has, once complete.
          const typeOf = Effect.suspend(() => {
            const detected = written.detected ?? detect(written.head)
            return detected === undefined ? Effect.fail(unsupported) : Effect.succeed(detected)
          })
          const stored = yield* files.put(checked, { extension: Effect.map(typeOf, (type) => type.extension) })
          return { stored, detected: yield* typeOf }
        })

      const store = Effect.fn("AuthSessionMediaUploads.store")(
        function*(session: AuthSession, content: Stream.Stream<Uint8Array, Multipart.MultipartError>) {
          const { detected, stored } = yield* put(content)
          // If the session went meanwhile (logout), its row refuses the media: drop the file too.
          const media = yield* sessions.addMedia({
            authSessionId: session.id,
            kind: detected.kind,
            // The generated name, which the cleanup's store (the same folder or bucket prefix) resolves.
            filePath: stored.path,
            sizeBytes: stored.sizeBytes
          }).pipe(Effect.onError(() => files.remove([stored.path])))
          return new PublicAuthSessionMedia({
            id: media.id,
            authSessionId: media.authSessionId,
            kind: media.kind,
            format: detected.format,
            sizeBytes: media.sizeBytes,
            createdAt: media.createdAt
          })
        }
      )

      return {
        /**
         * Records the `file` part of a multipart body. Other parts are skipped; a body without one
         * is an `InvalidUpload`.
         */
        upload: (
          session: AuthSession,
          parts: Stream.Stream<Multipart.Part, Multipart.MultipartError>,
          contentLength?: string
        ): Effect.Effect<PublicAuthSessionMedia, UploadError> =>
          // A body announced as too large is refused before a byte of it is read.
          Number(contentLength) > maxBytes + ENVELOPE_BYTES ? Effect.fail(tooLarge) : parts.pipe(
            Multipart.withLimitsStream({
              maxParts: Option.some(16),
              maxFileSize: Option.some(maxBytes),
              maxTotalSize: Option.some(maxBytes + ENVELOPE_BYTES)
            }),
            Stream.mapError(fromMultipart),
            Stream.mapEffect((part) =>
              Multipart.isFile(part) && part.key === "file"
                ? Effect.asSome(store(session, part.content))
                : Multipart.isFile(part)
                ? Effect.as(Stream.runDrain(Stream.mapError(part.content, fromMultipart)), Option.none())
                : Effect.succeedNone
            ),
            Stream.filterMap((saved) => saved),
            Stream.runHead,
            Effect.flatMap(Option.match({
              onNone: () =>
                Effect.fail(new InvalidUpload({ message: "The multipart body has no `file` part", field: "file" })),
              onSome: Effect.succeed
            }))
          ),
        /** Deletes stored files whose rows are gone; a file already missing is fine. */
        remove: (paths: ReadonlyArray<string>): Effect.Effect<void> => Effect.asVoid(files.remove(paths))
      } as const
    }).pipe(withMethodSpans("AuthSessionMediaUploads"))
  })
{}
