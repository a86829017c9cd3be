import { InvalidUpload, PayloadTooLarge, PublicAuthSessionMedia, UnsupportedMediaType } from "@clinic/domain"
import type { AuthSession } from "@clinic/domain"
import { AuthSessionRepo } from "@clinic/repository"
import { FileSystem, Multipart } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { Effect, Option, Stream } from "effect"
import * as Path from "node:path"
import { ApiConfig } from "../ApiConfig.js"
import { detect, type DetectedMedia, SNIFF_BYTES } from "./MediaType.js"

export type UploadError = PayloadTooLarge | UnsupportedMediaType | InvalidUpload

// Room for the multipart boundaries and part headers around the file itself.
const ENVELOPE_BYTES = 64 * 1024

interface Written {
  readonly size: number
  readonly head: Uint8Array
  readonly detected: DetectedMedia | undefined
}

const appendHead = (head: Uint8Array, chunk: Uint8Array): Uint8Array => {
  if (head.length >= SNIFF_BYTES) return head
  const next = new Uint8Array(Math.min(SNIFF_BYTES, head.length + chunk.length))
  next.set(head)
  next.set(chunk.subarray(0, next.length - head.length), head.length)
  return next
}

/**
 * Images and videos sent during an auth session: each is streamed to the media folder under a
 * server-generated name, checked by its magic bytes and size while it arrives, then recorded with
 * `AuthSessionRepo.addMedia`. Files of deleted sessions are removed through `remove`.
 */
export class AuthSessionMediaUploads
  extends Effect.Service<AuthSessionMediaUploads>()("@clinic/api/AuthSessionMediaUploads", {
    effect: Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const sessions = yield* AuthSessionRepo
      const { dir, maxBytes } = (yield* ApiConfig).authSessionMedia
      yield* fs.makeDirectory(dir, { recursive: true }).pipe(Effect.orDie)

      const tooLarge = new PayloadTooLarge({ message: `A media file has at most ${maxBytes} bytes`, maxBytes })
      const unsupported = new UnsupportedMediaType({
        message: "Only PNG, JPEG, GIF and WebP images and MP4, WebM and QuickTime videos are accepted"
      })
      const fromMultipart = (error: Multipart.MultipartError): UploadError =>
        error.reason === "FileTooLarge" || error.reason === "BodyTooLarge"
          ? tooLarge
          : new InvalidUpload({ message: `The multipart body cannot be read (${error.reason})`, field: "file" })

      // Writes the content to `path`, failing as soon as it is too large or its first bytes are not
      // an accepted type, so that a rejected upload is not read to its end.
      const write = (content: Stream.Stream<Uint8Array, Multipart.MultipartError>, path: string) =>
        Effect.scoped(Effect.gen(function*() {
          const file = yield* fs.open(path, { flag: "wx" }).pipe(Effect.orDie)
          const written = yield* content.pipe(
            Stream.mapError(fromMultipart),
            Stream.runFoldEffect(
              { size: 0, head: new Uint8Array(0), detected: undefined } as Written,
              (state, chunk) =>
                Effect.gen(function*() {
                  const size = state.size + chunk.length
                  if (size > maxBytes) return yield* Effect.fail(tooLarge)
                  const head = appendHead(state.head, chunk)
                  const detected = state.detected ?? (head.length >= SNIFF_BYTES ? detect(head) : undefined)
                  if (head.length >= SNIFF_BYTES && detected === undefined) return yield* Effect.fail(unsupported)
                  yield* file.writeAll(chunk).pipe(Effect.orDie)
                  return { size, head, detected }
                })
            )
          )
          const detected = written.detected ?? detect(written.head)
          if (detected === undefined) return yield* Effect.fail(unsupported)
          return { size: written.size, detected }
        }))

      const store = Effect.fn("AuthSessionMediaUploads.store")(
        function*(session: AuthSession, content: Stream.Stream<Uint8Array, Multipart.MultipartError>) {
          const name = crypto.randomUUID()
          const partial = Path.join(dir, `.${name}.part`)
          const { detected, size } = yield* write(content, partial).pipe(
            Effect.onError(() => fs.remove(partial, { force: true }).pipe(Effect.ignore))
          )
          const filePath = Path.join(dir, `${name}.${detected.extension}`)
          yield* fs.rename(partial, filePath).pipe(Effect.orDie)
          // If the session went meanwhile (logout), its row refuses the media: drop the file too.
          const media = yield* sessions.addMedia({
            authSessionId: session.id,
            kind: detected.kind,
            filePath,
            sizeBytes: size
          }).pipe(Effect.onError(() => fs.remove(filePath, { force: true }).pipe(Effect.ignore)))
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
        remove: (paths: ReadonlyArray<string>): Effect.Effect<void> =>
          Effect.forEach(
            paths,
            (path) =>
              fs.remove(path, { force: true }).pipe(
                Effect.catchAll((error) => Effect.logWarning("media file not removed", error))
              ),
            { discard: true, concurrency: 4 }
          ).pipe(Effect.withSpan("AuthSessionMediaUploads.remove"))
      } as const
    }),
    dependencies: [NodeFileSystem.layer]
  })
{}
