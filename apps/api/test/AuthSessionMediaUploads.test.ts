import { AuthSession, AuthSessionId, UserId } from "@clinic/domain"
import { AuthSessionRepo, tables } from "@clinic/repository"
import * as Repositories from "@clinic/repository/Repositories"
import { FileSystem, Multipart } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Exit, Layer, Ref, Stream } from "effect"
import { ApiConfig } from "../src/ApiConfig.js"
import { AuthSessionMediaUploads } from "../src/auth/AuthSessionMediaUploads.js"
import { testConfig, testStorage } from "./support/TestApi.js"

const MAX_BYTES = 1024
const SNIFF_BYTES = 64

const session = new AuthSession({
  id: AuthSessionId.make(crypto.randomUUID()),
  userId: UserId.make(crypto.randomUUID()),
  tokenHash: "0".repeat(64),
  createdAt: DateTime.unsafeMake("2026-03-02T09:00:00.000Z"),
  lastActiveAt: DateTime.unsafeMake("2026-03-02T09:00:00.000Z"),
  expiresAt: DateTime.unsafeMake("2026-04-01T09:00:00.000Z"),
  userAgent: null,
  ip: null
})

const layer = (repos: Layer.Layer<AuthSessionRepo, never, AuthSessionRepo> = Layer.empty as never) =>
  AuthSessionMediaUploads.Default.pipe(
    Layer.provide(repos),
    Layer.provideMerge(Repositories.layerMemory),
    Layer.provideMerge(testStorage()),
    Layer.provideMerge(testConfig({ API_AUTH_SESSION_MEDIA_MAX_BYTES: String(MAX_BYTES) })),
    Layer.provideMerge(NodeFileSystem.layer)
  )

/** The memory repository, except that recording a media row dies (the session went meanwhile). */
const addMediaDies = Layer.effect(
  AuthSessionRepo,
  Effect.map(AuthSessionRepo, (repo) => ({ ...repo, addMedia: () => Effect.die("the session is gone") }))
)

const filePart = (content: Stream.Stream<Uint8Array, Multipart.MultipartError>, key = "file"): Multipart.File => ({
  [Multipart.TypeId]: Multipart.TypeId,
  _tag: "File",
  key,
  name: "upload.bin",
  contentType: "application/octet-stream",
  content,
  contentEffect: Effect.die("not read whole")
} as unknown as Multipart.File)

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]
const png = (size: number) => {
  const bytes = new Uint8Array(size).fill(7)
  bytes.set(PNG_SIGNATURE)
  return bytes
}

const upload = (...chunks: ReadonlyArray<Uint8Array>) =>
  Effect.flatMap(
    AuthSessionMediaUploads,
    (uploads) => uploads.upload(session, Stream.make(filePart(Stream.fromIterable(chunks))))
  )

const storedFiles = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  return yield* fs.readDirectory((yield* ApiConfig).authSessionMedia.dir)
})

const multipartError = (reason: Multipart.MultipartError["reason"]) =>
  new Multipart.MultipartError({ reason, cause: "test" })

describe("AuthSessionMediaUploads", () => {
  it.scoped("a multipart body over its limits is 413; any other unreadable body is an InvalidUpload on `file`", () =>
    Effect.gen(function*() {
      const uploads = yield* AuthSessionMediaUploads
      // The parts themselves fail (the parser's limits), or the file's content does.
      const failures = (reason: Multipart.MultipartError["reason"]) => [
        uploads.upload(session, Stream.fail(multipartError(reason))),
        uploads.upload(session, Stream.make(filePart(Stream.fail(multipartError(reason)))))
      ]
      for (const reason of ["FileTooLarge", "BodyTooLarge"] as const) {
        for (const attempt of failures(reason)) {
          const error = yield* Effect.flip(attempt)
          assert.strictEqual(error._tag, "PayloadTooLarge", reason)
          assert.strictEqual(error._tag === "PayloadTooLarge" && error.maxBytes, MAX_BYTES)
        }
      }
      for (const reason of ["Parse", "TooManyParts", "FieldTooLarge", "InternalError"] as const) {
        for (const attempt of failures(reason)) {
          const error = yield* Effect.flip(attempt)
          assert.strictEqual(error._tag, "InvalidUpload", reason)
          assert.strictEqual(error._tag === "InvalidUpload" && error.field, "file")
        }
      }
      assert.deepStrictEqual(yield* storedFiles, [])
    }).pipe(Effect.provide(layer())))

  it.scoped("a file of exactly the maximum size is accepted; one byte more is 413 and leaves nothing", () =>
    Effect.gen(function*() {
      const tooLarge = yield* Effect.flip(upload(png(MAX_BYTES - 100), png(101)))
      assert.strictEqual(tooLarge._tag, "PayloadTooLarge")
      assert.deepStrictEqual(yield* storedFiles, [])

      const media = yield* upload(png(MAX_BYTES - 100), png(100))
      assert.strictEqual(media.sizeBytes, MAX_BYTES)
      assert.strictEqual(media.format, "png")
      assert.strictEqual((yield* storedFiles).length, 1)
    }).pipe(Effect.provide(layer())))

  it.scoped("a signature split over chunks shorter than the sniffed bytes is recognised", () =>
    Effect.gen(function*() {
      const bytes = png(200)
      const media = yield* upload(bytes.subarray(0, 4), bytes.subarray(4, 10), bytes.subarray(10))
      assert.strictEqual(media.format, "png")
      assert.strictEqual(media.sizeBytes, 200)
    }).pipe(Effect.provide(layer())))

  it.scoped("a file shorter than the sniffed bytes is judged on what it has, once complete", () =>
    Effect.gen(function*() {
      const tiny = png(SNIFF_BYTES - 20)
      const media = yield* upload(tiny.subarray(0, 3), tiny.subarray(3))
      assert.strictEqual(media.format, "png")
      assert.strictEqual(media.sizeBytes, SNIFF_BYTES - 20)

      const error = yield* Effect.flip(upload(new Uint8Array(SNIFF_BYTES - 1).fill(1)))
      assert.strictEqual(error._tag, "UnsupportedMediaType")
      assert.strictEqual((yield* storedFiles).length, 1)
    }).pipe(Effect.provide(layer())))

  it.scoped("an unknown type is refused once the sniffed bytes are in, without reading the rest", () =>
    Effect.gen(function*() {
      const uploads = yield* AuthSessionMediaUploads
      const pulled = yield* Ref.make(false)
      const content = Stream.concat(
        Stream.make(new Uint8Array(SNIFF_BYTES).fill(1)),
        Stream.fromEffect(Effect.as(Ref.set(pulled, true), new Uint8Array(10).fill(1)))
      )
      const error = yield* Effect.flip(uploads.upload(session, Stream.make(filePart(content))))
      assert.strictEqual(error._tag, "UnsupportedMediaType")
      assert.isFalse(yield* Ref.get(pulled))
      assert.deepStrictEqual(yield* storedFiles, [])
    }).pipe(Effect.provide(layer())))

  it.scoped("when the media row cannot be recorded, the stored file is removed", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(upload(png(200)))
      assert.isTrue(Exit.isFailure(exit))
      assert.deepStrictEqual(yield* storedFiles, [])
      assert.strictEqual((yield* tables).authSessionMedia.size, 0)
    }).pipe(Effect.provide(layer(addMediaDies))))
})
