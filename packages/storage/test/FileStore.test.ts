import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Deferred, Effect, Exit, Fiber, Stream } from "effect"
import * as Path from "node:path"
import { FileStore } from "../src/FileStore.js"

const setup = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const parent = yield* fs.makeTempDirectoryScoped({ prefix: "clinic-file-store-" })
  const dir = Path.join(parent, "files")
  const store = yield* FileStore.pipe(Effect.provide(FileStore.layer(dir)))
  const listing = Effect.map(fs.readDirectory(dir), (entries) => [...entries].sort())
  return { fs, parent, dir, store, listing }
})

const bytes = (text: string) => new TextEncoder().encode(text)

describe("FileStore.layer (local folder)", () => {
  it.scoped("put writes under a generated name, with the extension decided once the bytes are in; read streams it back", () =>
    Effect.gen(function*() {
      const { dir, fs, listing, store } = yield* setup
      const stored = yield* store.put(Stream.make(bytes("hello "), bytes("world")), {
        extension: Effect.succeed("txt")
      })
      assert.match(stored.path, /^[0-9a-f-]{36}\.txt$/)
      assert.strictEqual(stored.sizeBytes, 11)
      assert.deepStrictEqual(yield* listing, [stored.path])
      assert.strictEqual(yield* fs.readFileString(Path.join(dir, stored.path)), "hello world")
      const read = yield* Stream.runCollect(store.read(stored.path))
      assert.strictEqual(Chunk.reduce(read, 0, (n, chunk) => n + chunk.length), 11)
      const id = crypto.randomUUID()
      assert.strictEqual((yield* store.put(Stream.make(bytes("x")), { id, extension: "bin" })).path, `${id}.bin`)
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.scoped("content that fails, an extension that fails, and an interruption leave nothing behind", () =>
    Effect.gen(function*() {
      const { listing, store } = yield* setup
      const failing = yield* Effect.flip(
        store.put(Stream.concat(Stream.make(bytes("a")), Stream.fail("refused")), { extension: "txt" })
      )
      assert.strictEqual(failing, "refused")
      const late = yield* Effect.flip(store.put(Stream.make(bytes("a")), { extension: Effect.fail("unknown type") }))
      assert.strictEqual(late, "unknown type")
      assert.deepStrictEqual(yield* listing, [])

      const midway = yield* Deferred.make<void>()
      const stalled = Stream.concat(
        Stream.make(bytes("partial")),
        Stream.fromEffect(Effect.zipRight(Deferred.succeed(midway, undefined), Effect.never))
      )
      const fiber = yield* Effect.fork(store.put(stalled, { extension: "txt" }))
      yield* Deferred.await(midway)
      const during = yield* listing
      assert.strictEqual(during.length, 1)
      assert.match(during[0], /^\.[0-9a-f-]{36}\.part$/)
      assert.isTrue(Exit.isInterrupted(yield* Fiber.interrupt(fiber)))
      assert.deepStrictEqual(yield* listing, [])
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.scoped("names are never the caller's: an id that is not a UUID or a strange extension is a defect", () =>
    Effect.gen(function*() {
      const { listing, store } = yield* setup
      for (const options of [{ id: "../../etc/passwd", extension: "txt" }, { extension: "../x" }, { extension: "" }]) {
        const exit = yield* Effect.exit(store.put(Stream.make(bytes("a")), options))
        assert.isTrue(
          Exit.isFailure(exit) && Exit.isFailure(exit) && exit.cause._tag === "Die",
          JSON.stringify(options)
        )
      }
      assert.deepStrictEqual(yield* listing, [])
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.scoped("remove: stored files by relative or absolute path, missing ones count as removed, anything else is refused", () =>
    Effect.gen(function*() {
      const { dir, fs, parent, store } = yield* setup
      const a = yield* store.put(Stream.make(bytes("a")), { extension: "png" })
      const b = yield* store.put(Stream.make(bytes("b")), { extension: "png" })
      const gone = `${crypto.randomUUID()}.png`
      yield* fs.writeFileString(Path.join(dir, "notes.txt"), "not the store's")
      yield* fs.writeFileString(Path.join(parent, "outside.png"), "keep")
      const refused = [
        "../outside.png",
        Path.join(parent, "outside.png"),
        "notes.txt",
        `${a.path}/../../outside.png`,
        `.${a.path.slice(0, 36)}.part`
      ]
      const result = yield* store.remove([a.path, Path.join(dir, b.path), gone, ...refused])
      assert.deepStrictEqual(result, { removed: [a.path, Path.join(dir, b.path), gone], failed: refused })
      assert.deepStrictEqual([...(yield* fs.readDirectory(dir))], ["notes.txt"])
      assert.isTrue(yield* fs.exists(Path.join(parent, "outside.png")))
      assert.throws(() => store.absolutePath("../outside.png"))
    }).pipe(Effect.provide(NodeFileSystem.layer)))
})
