import type { AudioFormat, FileTooSmall, PayloadTooLarge, RecordingId, UnsupportedMediaType } from "@clinic/domain"
import { Sha256Hex } from "@clinic/domain"
import type { FileStore } from "@clinic/storage"
import { FileSignature, FileStores } from "@clinic/storage"
import type { Chunk } from "effect"
import { Context, Effect, Either, Layer, Stream } from "effect"
import { createHash } from "node:crypto"
import { checkMagic, MIN_AUDIO_BYTES, tooLarge, tooSmall } from "./AudioValidation.js"
import { RecordingsConfig } from "./RecordingsConfig.js"

/** Where an upload landed and what it was. */
export interface StoredAudio {
  /** The name the store generated (`<id>.<format>`), never the client's. */
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
   * Streams `content` to the `recordings` file store (a folder or a bucket) with bounded memory,
   * hashing and counting on the way. The first `FileSignature.SNIFF_BYTES` bytes must match `format` (else 415),
   * more than the configured maximum aborts at once (413), fewer than 1 KiB in all is 400. A
   * rejected, failed or interrupted upload leaves no file behind. Storage errors are defects.
   */
  readonly save: <E>(input: SaveAudio<E>) => Effect.Effect<StoredAudio, E | SaveError>
  readonly read: (storedPath: string) => Stream.Stream<Uint8Array, FileStore.ReadError>
  /** Deletes a stored file; a file already gone is fine. */
  readonly remove: (storedPath: string) => Effect.Effect<void>
}

/** The name of the recordings' file store: its key prefix in a bucket. */
export const STORE_NAME = "recordings"

export const make: Effect.Effect<RecordingStoreShape, never, FileStores.FileStores | RecordingsConfig> = Effect
  .gen(function*() {
    const { maxUploadBytes, storageDir } = yield* RecordingsConfig
    const files = yield* (yield* FileStores.FileStores).open({ name: STORE_NAME, dir: storageDir })

    // The audio rules run on the bytes as they pass to the store: a failure aborts the write and
    // the store leaves nothing behind.
    const save = <E>({ content, format, id }: SaveAudio<E>): Effect.Effect<StoredAudio, E | SaveError> =>
      Effect.gen(function*() {
        const hash = createHash("sha256")
        let size = 0
        let head: Uint8Array = new Uint8Array(0)
        // Checked a chunk (the parser's read, often several network packets) at a time, in plain
        // code: a per-packet effect costs more CPU than hashing the packet.
        const checked = Stream.mapChunksEffect(content, (
          chunk: Chunk.Chunk<Uint8Array>
        ): Effect.Effect<Chunk.Chunk<Uint8Array>, SaveError> => {
          for (const bytes of chunk) {
            size += bytes.length
            if (size > maxUploadBytes) return Effect.fail(tooLarge(maxUploadBytes))
            if (head.length < FileSignature.SNIFF_BYTES) {
              head = FileSignature.appendHead(head, bytes)
              if (head.length === FileSignature.SNIFF_BYTES) {
                const magic = checkMagic(format, head)
                if (Either.isLeft(magic)) return Effect.fail(magic.left)
              }
            }
            hash.update(bytes)
          }
          return Effect.succeed(chunk)
        })
        // Below the minimum no signature check has run yet (it needs fewer bytes): the size decides.
        const stored = yield* files.put(checked, {
          id,
          extension: Effect.suspend(() => size < MIN_AUDIO_BYTES ? Effect.fail(tooSmall) : Effect.succeed(format))
        })
        return { storedPath: stored.path, sizeBytes: stored.sizeBytes, sha256: Sha256Hex.make(hash.digest("hex")) }
      }).pipe(Effect.withSpan("RecordingStore.save", { attributes: { format } }))

    return {
      save,
      read: (storedPath) => files.read(storedPath).pipe(Stream.withSpan("RecordingStore.read")),
      remove: (storedPath) => Effect.asVoid(files.remove([storedPath])).pipe(Effect.withSpan("RecordingStore.remove"))
    }
  })

export class RecordingStore extends Context.Tag("@clinic/recordings/RecordingStore")<
  RecordingStore,
  RecordingStoreShape
>() {
  static readonly layer = Layer.effect(RecordingStore, make)
}
