import { recordSpanNames } from "@clinic/testing"
import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Stream } from "effect"
import * as Path from "node:path"
import type { FileStoreShape } from "../src/FileStore.js"
import * as LocalFileStore from "../src/LocalFileStore.js"
import { bytes, suite } from "./FileStoreContract.js"

const setup = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const parent = yield* fs.makeTempDirectoryScoped({ prefix: "clinic-file-store-" })
  const dir = Path.join(parent, "files")
  const store = yield* LocalFileStore.make(dir)
  const listing = Effect.map(fs.readDirectory(dir), (entries) => [...entries].sort()).pipe(Effect.orDie)
  return { fs, parent, dir, store, listing }
}).pipe(Effect.orDie, Effect.provide(NodeFileSystem.layer))

suite("local folder", setup)

describe("LocalFileStore", () => {
  it.scoped("a put writes a .part file beside the stored ones, renamed into place once complete", () =>
    Effect.gen(function*() {
      const { dir, fs, listing, store } = yield* setup
      const midway = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const content = Stream.concat(
        Stream.make(bytes("partial")),
        Stream.fromEffect(Effect.zipRight(Deferred.succeed(midway, undefined), Deferred.await(release))).pipe(
          Stream.drain
        )
      )
      const fiber = yield* Effect.fork(store.put(content, { extension: "txt" }))
      yield* Deferred.await(midway)
      const during = yield* listing
      assert.strictEqual(during.length, 1)
      assert.match(during[0], /^\.[0-9a-f-]{36}\.part$/)
      yield* Deferred.succeed(release, undefined)
      const stored = yield* Fiber.join(fiber)
      assert.deepStrictEqual(yield* listing, [stored.path])
      assert.strictEqual(yield* fs.readFileString(Path.join(dir, stored.path)), "partial")
    }))

  // Node's write stream, destroyed while writes are queued behind one in flight, fails them with
  // ERR_STREAM_DESTROYED: the abandoned upload's error must not keep its part file from going.
  it.scoped("an upload interrupted while writes are queued behind one in flight leaves no part file", () =>
    Effect.gen(function*() {
      const { listing, store } = yield* setup
      for (let attempt = 0; attempt < 20; attempt++) {
        const midway = yield* Deferred.make<void>()
        const content = Stream.concat(
          Stream.make(bytes("a".repeat(65_536)), bytes("b".repeat(65_536))),
          // One event-loop turn: the first write is under way, the second waits for it.
          Stream.fromEffect(
            Effect.zipRight(
              Effect.async<void>((resume) => void setImmediate(() => resume(Effect.void))),
              Effect.zipRight(Deferred.succeed(midway, undefined), Effect.never)
            )
          ).pipe(Stream.drain)
        )
        const fiber = yield* Effect.fork(store.put(content, { extension: "txt" }))
        yield* Deferred.await(midway)
        assert.isTrue(Exit.isInterrupted(yield* Fiber.interrupt(fiber)))
        assert.deepStrictEqual(yield* listing, [], `attempt ${attempt}`)
      }
    }))

  it.scoped("remove takes absolute paths inside the folder too; files it did not name and paths outside stay", () =>
    Effect.gen(function*() {
      const { dir, fs, parent, store } = yield* setup
      const a = yield* store.put(Stream.make(bytes("a")), { extension: "png" })
      yield* fs.writeFileString(Path.join(dir, "notes.txt"), "not the store's")
      yield* fs.writeFileString(Path.join(parent, "outside.png"), "keep")
      const result = yield* store.remove([Path.join(dir, a.path), Path.join(parent, "outside.png")])
      assert.deepStrictEqual(result, { removed: [Path.join(dir, a.path)], failed: [Path.join(parent, "outside.png")] })
      assert.deepStrictEqual([...(yield* fs.readDirectory(dir))], ["notes.txt"])
      assert.isTrue(yield* fs.exists(Path.join(parent, "outside.png")))
      const exit = yield* Effect.exit(Stream.runDrain(store.read(Path.join(parent, "outside.png"))))
      assert.isTrue(Exit.isFailure(exit))
    }))

  it.scoped("every method starts a span named FileStore.<method>", () =>
    Effect.gen(function*() {
      const { store } = yield* setup
      const stored = yield* store.put(Stream.make(bytes("traced")), { extension: "txt" })
      // Keyed by the shape, so a new method does not type-check here until it is traced too.
      const calls: { readonly [K in keyof FileStoreShape]: Effect.Effect<unknown, unknown> } = {
        put: store.put(Stream.make(bytes("more")), { extension: "txt" }),
        read: Stream.runDrain(store.read(stored.path)),
        remove: store.remove([stored.path])
      }
      for (const [method, call] of Object.entries(calls)) {
        const { exit, names } = yield* recordSpanNames(call)
        assert.isTrue(Exit.isSuccess(exit), `FileStore.${method} failed`)
        assert.include(names, `FileStore.${method}`)
      }
    }))
})
