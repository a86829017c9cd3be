import type { AudioFormat, FileTooSmall, PayloadTooLarge, RecordingId, UnsupportedMediaType } from "@clinic/domain"
import { Sha256Hex } from "@clinic/domain"
import { FileSystem } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { Context, Effect, Exit, Layer, Stream } from "effect"
import { createHash } from "node:crypto"
import * as Path from "node:path"
import { checkMagic, MAGIC_BYTES, MIN_AUDIO_BYTES, tooLarge, tooSmall } from "./AudioValidation.js"
import { RecordingsConfig } from "./RecordingsConfig.js"

/** Where an upload landed and what it was. */
export interface StoredAudio {
  /** Relative to the storage folder; a name the server generated, never the client's. */
  readonly storedPath: string
  readonly sizeBytes: number
  readonly sha256: Sha256Hex
}

export interface SaveAudio<E> {
  /** Names the file (`<id>.<format>`); a fresh UUID when absent. */
  readonly id?: RecordingId | undefined
  readonly format: AudioFormat
  readonly content: Stream.Stream<Uint8Array, E>
}

export type SaveError = UnsupportedMediaType | FileTooSmall | PayloadTooLarge

export interface RecordingStoreShape {
  /**
   * Streams `content` to disk chunk by chunk (memory stays at one chunk whatever the size),
   * hashing and counting on the way. The first `MAGIC_BYTES` bytes must match `format` (else 415),
   * more than the configured maximum aborts at once (413), fewer than 1 KiB in all is 400. The
   * bytes go to a `.part` file renamed into place only when complete: a rejected, failed or
   * interrupted upload leaves no file behind. Disk errors are defects.
   */
  readonly save: <E>(input: SaveAudio<E>) => Effect.Effect<StoredAudio, E | SaveError>
  /** The absolute path of a stored file, for providers that upload it. */
  readonly absolutePath: (storedPath: string) => string
  readonly read: (storedPath: string) => Stream.Stream<Uint8Array, PlatformError>
  /** Deletes a stored file; a file already gone is fine. */
  readonly remove: (storedPath: string) => Effect.Effect<void>
}

const INCOMING = ".incoming"

// Stored names are generated (`<uuid>.<format>`); anything else reaching `absolutePath` is a bug,
// and refusing it keeps a corrupted row from pointing the server at `../../etc/passwd`.
const storedName = /^[0-9a-f-]{36}\.(mp3|wav|m4a)$/

export const make: Effect.Effect<RecordingStoreShape, never, FileSystem.FileSystem | RecordingsConfig> = Effect
  .gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const { maxUploadBytes, storageDir } = yield* RecordingsConfig
    const incomingDir = Path.join(storageDir, INCOMING)
    yield* fs.makeDirectory(incomingDir, { recursive: true }).pipe(Effect.orDie)

    const absolutePath = (storedPath: string) => {
      if (!storedName.test(storedPath)) throw new Error(`Not a stored recording name: ${JSON.stringify(storedPath)}`)
      return Path.join(storageDir, storedPath)
    }

    const save = <E>({ content, format, id }: SaveAudio<E>): Effect.Effect<StoredAudio, E | SaveError> =>
      Effect.gen(function*() {
        const storedPath = `${id ?? crypto.randomUUID()}.${format}`
        const finalPath = absolutePath(storedPath)
        const partPath = Path.join(incomingDir, `${storedPath}.part`)
        const file = yield* fs.open(partPath, { flag: "wx" }).pipe(Effect.orDie)
        yield* Effect.addFinalizer((exit) =>
          Exit.isSuccess(exit) ? Effect.void : fs.remove(partPath).pipe(Effect.ignore)
        )

        const hash = createHash("sha256")
        let size = 0
        let head = new Uint8Array(0)
        yield* Stream.runForEach(content, (chunk) =>
          Effect.gen(function*() {
            size += chunk.length
            if (size > maxUploadBytes) return yield* Effect.fail(tooLarge(maxUploadBytes))
            if (head.length < MAGIC_BYTES) {
              const taken = chunk.subarray(0, MAGIC_BYTES - head.length)
              const next = new Uint8Array(head.length + taken.length)
              next.set(head)
              next.set(taken, head.length)
              head = next
              if (head.length === MAGIC_BYTES) yield* checkMagic(format, head)
            }
            hash.update(chunk)
            yield* file.writeAll(chunk).pipe(Effect.orDie)
          }))
        if (size < MIN_AUDIO_BYTES) return yield* Effect.fail(tooSmall)

        yield* file.sync.pipe(Effect.orDie)
        yield* fs.rename(partPath, finalPath).pipe(Effect.orDie)
        return { storedPath, sizeBytes: size, sha256: Sha256Hex.make(hash.digest("hex")) }
      }).pipe(Effect.scoped, Effect.withSpan("RecordingStore.save", { attributes: { format } }))

    return {
      save,
      absolutePath,
      read: (storedPath) => fs.stream(absolutePath(storedPath)),
      remove: (storedPath) =>
        fs.remove(absolutePath(storedPath)).pipe(
          Effect.catchIf((error) => error._tag === "SystemError" && error.reason === "NotFound", () => Effect.void),
          Effect.orDie,
          Effect.withSpan("RecordingStore.remove")
        )
    }
  })

export class RecordingStore extends Context.Tag("@clinic/recordings/RecordingStore")<
  RecordingStore,
  RecordingStoreShape
>() {
  static readonly layer = Layer.effect(RecordingStore, make)
}
