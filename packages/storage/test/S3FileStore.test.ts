import { assert, describe, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Stream } from "effect"
import { FileStores } from "../src/FileStores.js"
import * as S3FileStore from "../src/S3FileStore.js"
import * as S3TestServer from "../src/testing/S3TestServer.js"
import { bytes, generated, suite } from "./FileStoreContract.js"

/** A server of its own per test, a store on the `files/` prefix and a client that sees every command sent. */
const setup = Effect.gen(function*() {
  const server = yield* S3TestServer.start()
  const client = yield* S3FileStore.makeClient(server.s3)
  const sent: Array<string> = []
  const uploadPartSent = yield* Deferred.make<void>()
  client.middlewareStack.add((next, context) => (args) => {
    sent.push(context.commandName ?? "")
    if (context.commandName === "UploadPartCommand") Deferred.unsafeDone(uploadPartSent, Exit.void)
    return next(args)
  }, { step: "initialize" })
  const store = S3FileStore.make(client, { bucket: server.bucket, prefix: "files/" })
  return { server, client, store, sent, uploadPartSent, listing: server.keys }
})

suite("S3 (s3rver)", setup)

describe("S3FileStore", () => {
  it.scoped("a file is the object <prefix><id>; stores of other names in the same bucket do not see it", () =>
    Effect.gen(function*() {
      const { listing, server, store } = yield* setup
      const stored = yield* store.put(Stream.make(bytes("a")), { extension: "png" })
      assert.deepStrictEqual(yield* listing, [`files/${stored.path.slice(0, 36)}`])
      const stores = yield* FileStores.pipe(
        Effect.provide(FileStores.layerS3({ ...server.s3, keyPrefix: "staging/" }))
      )
      const other = yield* stores.open({ name: "auth-session-media", dir: "unused" })
      const exit = yield* Effect.exit(Stream.runDrain(other.read(stored.path)))
      assert.isTrue(Exit.isFailure(exit))
      const media = yield* other.put(Stream.make(bytes("b")), { extension: "png" })
      assert.deepStrictEqual(
        yield* listing,
        [
          `files/${stored.path.slice(0, 36)}`,
          `staging/auth-session-media/${media.path.slice(0, 36)}`
        ].sort()
      )
      const badName = yield* Effect.exit(stores.open({ name: "../x", dir: "unused" }))
      assert.isTrue(Exit.isFailure(badName) && Cause.isDie(badName.cause))
    }))

  it.scoped(
    "an interruption after parts have gone aborts the multipart upload: no object is completed",
    () =>
      Effect.gen(function*() {
        const { listing, sent, store, uploadPartSent } = yield* setup
        const fiber = yield* Effect.fork(store.put(Stream.concat(generated(192), Stream.never), { extension: "m4a" }))
        yield* Deferred.await(uploadPartSent)
        assert.isTrue(Exit.isInterrupted(yield* Fiber.interrupt(fiber)))
        assert.include(sent, "CreateMultipartUploadCommand")
        assert.include(sent, "AbortMultipartUploadCommand")
        assert.notInclude(sent, "CompleteMultipartUploadCommand")
        assert.deepStrictEqual(yield* listing, [])
      }),
    60_000
  )
})
