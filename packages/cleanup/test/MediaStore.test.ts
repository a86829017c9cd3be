import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { MediaStore } from "../src/MediaStore.js"

describe("MediaStore.layer (node fs)", () => {
  it.live("removes files under the media folder, treats missing ones as removed, refuses paths outside it", () =>
    Effect.gen(function*() {
      const parent = yield* Effect.acquireRelease(
        Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "clinic-media-"))),
        (dir) => Effect.promise(() => Fs.rm(dir, { recursive: true, force: true }))
      )
      const root = Path.join(parent, "media")
      yield* Effect.promise(() => Fs.mkdir(Path.join(root, "sessions"), { recursive: true }))
      yield* Effect.promise(() => Fs.writeFile(Path.join(root, "sessions", "a.png"), "a"))
      const outside = Path.join(parent, "keep.txt")
      yield* Effect.promise(() => Fs.writeFile(outside, "keep"))

      const store = yield* MediaStore.pipe(
        Effect.provide(
          MediaStore.layer.pipe(
            Layer.provide(
              Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["CLINIC_AUTH_SESSION_MEDIA_DIR", root]])))
            )
          )
        )
      )
      const result = yield* store.remove(["sessions/a.png", "sessions/gone.png", "../keep.txt", outside])
      assert.deepStrictEqual(result.removed, ["sessions/a.png", "sessions/gone.png"])
      assert.deepStrictEqual(result.failed, ["../keep.txt", outside])
      const exists = (path: string) => Effect.promise(() => Fs.access(path).then(() => true, () => false))
      assert.isFalse(yield* exists(Path.join(root, "sessions", "a.png")))
      assert.isTrue(yield* exists(outside))
    }).pipe(Effect.scoped))
})
