import { Storage } from "@clinic/repository"
import { Context, Effect, Layer, Ref } from "effect"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"

/** What a removal did: files gone (or already absent) and files that could not be removed. */
export interface MediaRemoval {
  readonly removed: ReadonlyArray<string>
  readonly failed: ReadonlyArray<string>
}

export interface MediaStoreShape {
  /**
   * Removes the files of deleted media rows. It never fails: the rows are already gone when it
   * runs, so a file that cannot be removed is logged and reported, not retried by rolling back.
   */
  readonly remove: (paths: ReadonlyArray<string>) => Effect.Effect<MediaRemoval>
}

export class MediaStore extends Context.Tag("@clinic/cleanup/MediaStore")<MediaStore, MediaStoreShape>() {
  /**
   * Files on the local disk under `CLINIC_AUTH_SESSION_MEDIA_DIR`. Relative paths resolve against it; a path
   * that resolves outside it is refused, so a bad row can never delete an arbitrary file.
   */
  static readonly layer = Layer.effect(
    MediaStore,
    Effect.gen(function*() {
      const root = yield* Storage.authSessionMediaDir
      const removeOne = (path: string) => {
        const resolved = Path.resolve(root, path)
        const inside = resolved.startsWith(root + Path.sep)
        return inside
          ? Effect.tryPromise(() => Fs.rm(resolved, { force: true })).pipe(
            Effect.as(true),
            Effect.catchAll((error) => Effect.as(Effect.logWarning("media file not removed", error), false))
          )
          : Effect.as(
            Effect.logWarning("media path outside the media folder refused").pipe(
              Effect.annotateLogs({ path, root })
            ),
            false
          )
      }
      return MediaStore.of({
        remove: (paths) =>
          Effect.forEach(paths, (path) => Effect.map(removeOne(path), (ok) => [path, ok] as const), {
            concurrency: 8
          }).pipe(
            Effect.map((results) => ({
              removed: results.filter(([, ok]) => ok).map(([path]) => path),
              failed: results.filter(([, ok]) => !ok).map(([path]) => path)
            }))
          )
      })
    })
  )
}

/** The paths the memory store was asked to remove, in order; tests read it. */
export class RemovedMedia extends Context.Tag("@clinic/cleanup/RemovedMedia")<
  RemovedMedia,
  Ref.Ref<ReadonlyArray<string>>
>() {}

/** A store that records removals instead of touching the disk; `failing` paths are reported failed. */
export const layerMemory = (options: { readonly failing?: ReadonlyArray<string> } = {}) =>
  Layer.effect(
    MediaStore,
    Effect.map(RemovedMedia, (removed) =>
      MediaStore.of({
        remove: (paths) => {
          const failed = paths.filter((path) => options.failing?.includes(path))
          const ok = paths.filter((path) => !options.failing?.includes(path))
          return Effect.as(Ref.update(removed, (all) => [...all, ...ok]), { removed: ok, failed })
        }
      }))
  ).pipe(Layer.provideMerge(Layer.effect(RemovedMedia, Ref.make<ReadonlyArray<string>>([]))))
