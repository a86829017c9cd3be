/**
 * The contract of every `FileStore` implementation, run by each one's test file against a real
 * backend (a temporary folder, an S3 protocol server).
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Chunk, Deferred, Effect, Exit, Fiber, Option, Stream } from "effect"
import type { Scope } from "effect"
import { createHash } from "node:crypto"
import type { FileStoreShape } from "../src/FileStore.js"
import { ReadError } from "../src/FileStore.js"

export interface Subject {
  readonly store: FileStoreShape
  /** Everything the backend holds (files of the folder, keys of the bucket), unfinished puts included. */
  readonly listing: Effect.Effect<ReadonlyArray<string>>
}

export const bytes = (text: string) => new TextEncoder().encode(text)

/** `count` chunks of 64 KiB, each byte depending on its position, so that reordering would show. */
export const generated = (count: number) =>
  Stream.fromIterable(Array.from({ length: count }, (_, i) => {
    const chunk = new Uint8Array(64 * 1024)
    for (let j = 0; j < chunk.length; j += 512) chunk[j] = (i * 7 + j) % 251
    return chunk
  }))

const digest = <E>(stream: Stream.Stream<Uint8Array, E>) =>
  Stream.runFold(stream, { hash: createHash("sha256"), size: 0 }, (acc, chunk) => {
    acc.hash.update(chunk)
    acc.size += chunk.length
    return acc
  }).pipe(Effect.map(({ hash, size }) => ({ sha256: hash.digest("hex"), size })))

const isDefect = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isFailure(exit) && Option.isSome(Cause.dieOption(exit.cause)) && Option.isNone(Cause.failureOption(exit.cause))

/** A stream of `head` that never ends, telling `reached` when it stalls. */
const stalling = (head: Stream.Stream<Uint8Array>, reached: Deferred.Deferred<void>) =>
  Stream.concat(head, Stream.fromEffect(Effect.zipRight(Deferred.succeed(reached, undefined), Effect.never)))

/** 12 MiB: several multipart parts. */
const LARGE_CHUNKS = 192

export const suite = (name: string, subject: Effect.Effect<Subject, never, Scope.Scope>) =>
  describe(`FileStore contract: ${name}`, () => {
    it.scoped("put stores under a generated name, with the extension decided once the bytes are in; read streams it back", () =>
      Effect.gen(function*() {
        const { listing, store } = yield* subject
        const stored = yield* store.put(Stream.make(bytes("hello "), bytes("world")), {
          extension: Effect.succeed("txt")
        })
        assert.match(stored.path, /^[0-9a-f-]{36}\.txt$/)
        assert.strictEqual(stored.sizeBytes, 11)
        assert.strictEqual((yield* listing).length, 1)
        const read = yield* Stream.runCollect(store.read(stored.path))
        assert.strictEqual(
          new TextDecoder().decode(Buffer.concat(Chunk.toReadonlyArray(read))),
          "hello world"
        )
        const id = crypto.randomUUID()
        assert.strictEqual((yield* store.put(Stream.make(bytes("x")), { id, extension: "bin" })).path, `${id}.bin`)
        assert.strictEqual((yield* listing).length, 2)
      }))

    it.scoped("a large file streams through and back byte for byte", () =>
      Effect.gen(function*() {
        const { store } = yield* subject
        const sent = yield* digest(generated(LARGE_CHUNKS))
        const stored = yield* store.put(generated(LARGE_CHUNKS), { extension: "m4a" })
        assert.strictEqual(stored.sizeBytes, sent.size)
        assert.deepStrictEqual(yield* digest(store.read(stored.path)), sent)
      }), 60_000)

    it.scoped(
      "content that fails, early or after many parts, and an extension that fails leave nothing behind",
      () =>
        Effect.gen(function*() {
          const { listing, store } = yield* subject
          const early = yield* Effect.flip(
            store.put(Stream.concat(Stream.make(bytes("a")), Stream.fail("refused")), { extension: "txt" })
          )
          assert.strictEqual(early, "refused")
          const late = yield* Effect.flip(
            store.put(Stream.concat(generated(LARGE_CHUNKS), Stream.fail("too large")), { extension: "txt" })
          )
          assert.strictEqual(late, "too large")
          const extension = yield* Effect.flip(
            store.put(generated(4), { extension: Effect.fail("unknown type") })
          )
          assert.strictEqual(extension, "unknown type")
          const largeExtension = yield* Effect.flip(
            store.put(generated(LARGE_CHUNKS), { extension: Effect.fail("unknown type") })
          )
          assert.strictEqual(largeExtension, "unknown type")
          assert.deepStrictEqual(yield* listing, [])
        }),
      60_000
    )

    it.scoped("an interruption, before or after parts have gone, leaves nothing behind", () =>
      Effect.gen(function*() {
        const { listing, store } = yield* subject
        for (const chunks of [1, LARGE_CHUNKS]) {
          const midway = yield* Deferred.make<void>()
          const fiber = yield* Effect.fork(store.put(stalling(generated(chunks), midway), { extension: "txt" }))
          yield* Deferred.await(midway)
          assert.isTrue(Exit.isInterrupted(yield* Fiber.interrupt(fiber)))
          assert.deepStrictEqual(yield* listing, [], `after ${chunks} chunks`)
        }
      }), 60_000)

    it.scoped("names are never the caller's: an id that is not a UUID or a strange extension is a defect", () =>
      Effect.gen(function*() {
        const { listing, store } = yield* subject
        for (
          const options of [{ id: "../../etc/passwd", extension: "txt" }, { extension: "../x" }, { extension: "" }]
        ) {
          const exit = yield* Effect.exit(store.put(Stream.make(bytes("a")), options))
          assert.isTrue(isDefect(exit), JSON.stringify(options))
        }
        assert.deepStrictEqual(yield* listing, [])
      }))

    it.scoped("reading a missing file fails with NotFound; reading a name the store did not generate is a defect", () =>
      Effect.gen(function*() {
        const { store } = yield* subject
        const missing = yield* Effect.flip(Stream.runDrain(store.read(`${crypto.randomUUID()}.png`)))
        assert.instanceOf(missing, ReadError)
        assert.strictEqual(missing.reason, "NotFound")
        for (const bad of ["../outside.png", "notes.txt", `.${crypto.randomUUID()}.part`]) {
          assert.isTrue(isDefect(yield* Effect.exit(Stream.runDrain(store.read(bad)))), bad)
        }
      }))

    it.scoped("remove: stored files go, missing ones count as removed, other names are refused", () =>
      Effect.gen(function*() {
        const { listing, store } = yield* subject
        const a = yield* store.put(Stream.make(bytes("a")), { extension: "png" })
        const b = yield* store.put(Stream.make(bytes("b")), { extension: "png" })
        const gone = `${crypto.randomUUID()}.png`
        const refused = ["../outside.png", "notes.txt", `${a.path}/../../outside.png`, `.${a.path.slice(0, 36)}.part`]
        const result = yield* store.remove([a.path, gone, ...refused])
        assert.deepStrictEqual(result, { removed: [a.path, gone], failed: refused })
        assert.strictEqual((yield* listing).length, 1)
        const readA = yield* Effect.flip(Stream.runDrain(store.read(a.path)))
        assert.strictEqual(readA.reason, "NotFound")
        assert.strictEqual(yield* Stream.runFold(store.read(b.path), 0, (n, chunk) => n + chunk.length), 1)
      }))
  })
