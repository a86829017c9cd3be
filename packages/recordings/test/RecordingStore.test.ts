import { RecordingId } from "@clinic/domain"
import { FileStores } from "@clinic/storage"
import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Chunk, Deferred, Effect, Exit, Fiber, Layer, Ref, Stream } from "effect"
import { createHash } from "node:crypto"
import * as Path from "node:path"
import { RecordingsConfig } from "../src/RecordingsConfig.js"
import { RecordingStore } from "../src/RecordingStore.js"
import { audioBytes, chunked, heads } from "./audio.js"

/** A store over a fresh temp folder; returns the folder so tests can look at the disk. */
const setup = (maxUploadBytes = 1024 * 1024) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const storageDir = yield* fs.makeTempDirectoryScoped({ prefix: "recordings-test-" })
    const store = yield* Effect.provide(
      RecordingStore,
      RecordingStore.layer.pipe(
        Layer.provide([RecordingsConfig.layerTest({ storageDir, maxUploadBytes }), FileStores.FileStores.layerLocal])
      )
    )
    /** Every file under the storage folder, relative, including unfinished `.part` files. */
    const files = fs.readDirectory(storageDir, { recursive: true }).pipe(
      Effect.flatMap(
        Effect.filter((entry) => fs.stat(Path.join(storageDir, entry)).pipe(Effect.map((info) => info.type === "File")))
      ),
      Effect.map((entries) => entries.sort())
    )
    return { fs, storageDir, store, files }
  }).pipe(Effect.provide(NodeFileSystem.layer))

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex")

describe("RecordingStore", () => {
  it.scoped("streams chunks to a generated name, with the size and sha256 of the bytes", () =>
    Effect.gen(function*() {
      const { files, fs, storageDir, store } = yield* setup()
      const data = audioBytes(heads.mp3Id3, 100_000)
      const stored = yield* store.save({ format: "mp3", content: Stream.fromIterable(chunked(data, 4096)) })
      assert.match(stored.storedPath, /^[0-9a-f-]{36}\.mp3$/)
      assert.strictEqual(stored.sizeBytes, data.length)
      assert.strictEqual(stored.sha256, sha256(data))
      assert.deepStrictEqual(yield* files, [stored.storedPath])
      const written = yield* fs.readFile(Path.join(storageDir, stored.storedPath))
      assert.isTrue(Buffer.from(written).equals(Buffer.from(data)))
      const readBack = yield* Stream.runCollect(store.read(stored.storedPath))
      assert.strictEqual(Chunk.reduce(readBack, 0, (n, c) => n + c.length), data.length)
    }))

  it.scoped("names the file after the recording id when given; magic bytes may span chunks", () =>
    Effect.gen(function*() {
      const { files, store } = yield* setup()
      const id = RecordingId.make("0b6c5d3e-7a3f-4c51-9d0e-2a4b8c6d1e2f")
      const data = audioBytes(heads.wav, 5000)
      // 1-, 3- and 5-byte chunks first: the 12 magic bytes arrive in pieces.
      const content = Stream.fromIterable([
        data.subarray(0, 1),
        data.subarray(1, 4),
        data.subarray(4, 9),
        data.subarray(9)
      ])
      const stored = yield* store.save({ id, format: "wav", content })
      assert.strictEqual(stored.storedPath, `${id}.wav`)
      assert.deepStrictEqual(yield* files, [`${id}.wav`])
    }))

  it.scoped("content that is not the declared format is 415 and leaves nothing, even split over chunks", () =>
    Effect.gen(function*() {
      const { files, store } = yield* setup()
      const wavAsMp3 = audioBytes(heads.wav, 5000)
      const error = yield* Effect.flip(
        store.save({ format: "mp3", content: Stream.fromIterable(chunked(wavAsMp3, 7)) })
      )
      assert.strictEqual(error._tag, "UnsupportedMediaType")
      const pngAsM4a = yield* Effect.flip(
        store.save({ format: "m4a", content: Stream.make(audioBytes(heads.png, 5000)) })
      )
      assert.strictEqual(pngAsM4a._tag, "UnsupportedMediaType")
      assert.deepStrictEqual(yield* files, [])
    }))

  it.scoped("under 1 KiB is FileTooSmall (also when too short for magic bytes) and leaves nothing", () =>
    Effect.gen(function*() {
      const { files, store } = yield* setup()
      const small = yield* Effect.flip(
        store.save({ format: "mp3", content: Stream.make(audioBytes(heads.mp3Id3, 1023)) })
      )
      assert.strictEqual(small._tag, "FileTooSmall")
      const tiny = yield* Effect.flip(store.save({ format: "mp3", content: Stream.make(heads.mp3Id3.subarray(0, 5)) }))
      assert.strictEqual(tiny._tag, "FileTooSmall")
      const empty = yield* Effect.flip(store.save({ format: "wav", content: Stream.empty }))
      assert.strictEqual(empty._tag, "FileTooSmall")
      const exactly = yield* store.save({ format: "mp3", content: Stream.make(audioBytes(heads.mp3Id3, 1024)) })
      assert.deepStrictEqual(yield* files, [exactly.storedPath])
    }))

  it.scoped("over the maximum aborts while streaming with 413: the rest is never pulled, nothing is left", () =>
    Effect.gen(function*() {
      const { files, store } = yield* setup(4096)
      const pulled = yield* Ref.make(0)
      const data = audioBytes(heads.m4a, 1024 * 100)
      const content = Stream.fromIterable(chunked(data, 1024)).pipe(Stream.tap(() => Ref.update(pulled, (n) => n + 1)))
      const error = yield* Effect.flip(store.save({ format: "m4a", content }))
      assert.strictEqual(error._tag, "PayloadTooLarge")
      if (error._tag === "PayloadTooLarge") assert.strictEqual(error.maxBytes, 4096)
      assert.strictEqual(yield* Ref.get(pulled), 5)
      assert.deepStrictEqual(yield* files, [])
      // The maximum itself is accepted.
      const atMax = yield* store.save({
        format: "m4a",
        content: Stream.fromIterable(chunked(data.subarray(0, 4096), 1000))
      })
      assert.strictEqual(atMax.sizeBytes, 4096)
    }))

  it.scoped("a failing upload stream keeps its own error and leaves nothing", () =>
    Effect.gen(function*() {
      const { files, store } = yield* setup()
      const data = audioBytes(heads.mp3FrameSync, 8192)
      const content = Stream.fromIterable(chunked(data, 2048)).pipe(
        Stream.concat(Stream.fail({ _tag: "MultipartError", reason: "connection reset" } as const))
      )
      const error = yield* Effect.flip(store.save({ format: "mp3", content }))
      assert.strictEqual(error._tag, "MultipartError")
      assert.deepStrictEqual(yield* files, [])
    }))

  it.scoped("an interrupted upload removes its partial file", () =>
    Effect.gen(function*() {
      const { files, store } = yield* setup()
      const midway = yield* Deferred.make<void>()
      const data = audioBytes(heads.wav, 8192)
      // Two chunks, then the client stalls; by the time the stall is pulled both are on disk.
      const content = Stream.fromIterable(chunked(data, 4096)).pipe(
        Stream.concat(Stream.fromEffect(Deferred.succeed(midway, undefined).pipe(Effect.zipRight(Effect.never))))
      )
      const fiber = yield* Effect.fork(store.save({ format: "wav", content }))
      yield* Deferred.await(midway)
      const partial = yield* files
      assert.strictEqual(partial.length, 1)
      assert.match(partial[0], /^\.[0-9a-f-]{36}\.part$/)
      const exit = yield* Fiber.interrupt(fiber)
      assert.isTrue(Exit.isInterrupted(exit))
      assert.deepStrictEqual(yield* files, [])
    }))

  it.scoped("concurrent uploads get distinct files with their own hashes", () =>
    Effect.gen(function*() {
      const { files, store } = yield* setup()
      const uploads = Array.from({ length: 8 }, (_, i) => audioBytes(heads.mp3Id3, 2048 + i * 100))
      const stored = yield* Effect.forEach(
        uploads,
        (data) => store.save({ format: "mp3", content: Stream.fromIterable(chunked(data, 300)) }),
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(stored.map((s) => s.sha256), uploads.map(sha256))
      assert.strictEqual((yield* files).length, 8)
    }))

  it.scoped("remove deletes, tolerates a missing file, and refuses names it did not generate", () =>
    Effect.gen(function*() {
      const { files, store } = yield* setup()
      const stored = yield* store.save({ format: "mp3", content: Stream.make(audioBytes(heads.mp3Id3, 2048)) })
      yield* store.remove(stored.storedPath)
      yield* store.remove(stored.storedPath)
      assert.deepStrictEqual(yield* files, [])
      for (
        const bad of [
          "../../etc/passwd",
          "x.mp3",
          `${stored.storedPath}/../../a.mp3`,
          `.${stored.storedPath.slice(0, 36)}.part`
        ]
      ) {
        const read = yield* Effect.exit(Stream.runDrain(store.read(bad)))
        assert.isTrue(Exit.isFailure(read) && Cause.isDie(read.cause), bad)
      }
    }))
})
