import { FileStores } from "@clinic/storage"
import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { AuthSessionMediaStore } from "../src/AuthSessionMediaStore.js"

describe("AuthSessionMediaStore.layer (node fs)", () => {
  it.live("removes stored files of the media folder, treats missing ones as removed, refuses any other path", () =>
    Effect.gen(function*() {
      const parent = yield* Effect.acquireRelease(
        Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "clinic-media-"))),
        (dir) => Effect.promise(() => Fs.rm(dir, { recursive: true, force: true }))
      )
      const root = Path.join(parent, "media")
      const stored = `${crypto.randomUUID()}.png`
      const gone = `${crypto.randomUUID()}.png`
      yield* Effect.promise(() => Fs.mkdir(root, { recursive: true }))
      yield* Effect.promise(() => Fs.writeFile(Path.join(root, stored), "a"))
      // A file the store did not name, inside the folder, and one outside it.
      yield* Effect.promise(() => Fs.writeFile(Path.join(root, "notes.txt"), "keep"))
      const outside = Path.join(parent, "keep.txt")
      yield* Effect.promise(() => Fs.writeFile(outside, "keep"))

      const store = yield* AuthSessionMediaStore.pipe(
        Effect.provide(
          AuthSessionMediaStore.layer.pipe(
            Layer.provide(
              Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["CLINIC_AUTH_SESSION_MEDIA_DIR", root]])))
            ),
            Layer.provide(FileStores.FileStores.layerLocal),
            Layer.provide(NodeFileSystem.layer)
          )
        )
      )
      const result = yield* store.remove([Path.join(root, stored), gone, "../keep.txt", outside, "notes.txt"])
      assert.deepStrictEqual(result.removed, [Path.join(root, stored), gone])
      assert.deepStrictEqual(result.failed, ["../keep.txt", outside, "notes.txt"])
      const exists = (path: string) => Effect.promise(() => Fs.access(path).then(() => true, () => false))
      assert.isFalse(yield* exists(Path.join(root, stored)))
      assert.isTrue(yield* exists(outside))
      assert.isTrue(yield* exists(Path.join(root, "notes.txt")))
    }).pipe(Effect.scoped))
})
