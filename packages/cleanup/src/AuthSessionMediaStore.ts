import { withMethodSpans } from "@clinic/foundation"
import { Storage } from "@clinic/repository"
import type { FileStore } from "@clinic/storage"
import { FileStores } from "@clinic/storage"
import { Context, Effect, Layer, Ref } from "effect"

/** What a removal did: files gone (or already absent) and files that could not be removed. */
export type MediaRemoval = FileStore.Removal

export interface AuthSessionMediaStoreShape {
  /**
   * Removes the files of deleted media rows. It never fails: the rows are already gone when it
   * runs, so a file that cannot be removed is logged and reported, not retried by rolling back.
   */
  readonly remove: (paths: ReadonlyArray<string>) => Effect.Effect<MediaRemoval>
}

export class AuthSessionMediaStore
  extends Context.Tag("@clinic/cleanup/AuthSessionMediaStore")<AuthSessionMediaStore, AuthSessionMediaStoreShape>()
{
  /**
   * The auth session media's file store (`@clinic/storage`), the one the API writes them to: the
   * folder `CLINIC_AUTH_SESSION_MEDIA_DIR` or the bucket's `auth-session-media/` keys. A name it did
   * not generate is refused, so a bad row can never delete an arbitrary file.
   */
  static readonly layer = Layer.effect(
    AuthSessionMediaStore,
    Effect.gen(function*() {
      const stores = yield* FileStores.FileStores
      const files = yield* stores.open({
        name: Storage.AUTH_SESSION_MEDIA_STORE,
        dir: yield* Storage.authSessionMediaDir
      })
      return AuthSessionMediaStore.of({
        remove: (paths) => Effect.zipRight(Effect.annotateCurrentSpan("files", paths.length), files.remove(paths))
      })
    }).pipe(withMethodSpans("AuthSessionMediaStore"))
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
    AuthSessionMediaStore,
    Effect.map(RemovedMedia, (removed) =>
      AuthSessionMediaStore.of({
        remove: (paths) => {
          const failed = paths.filter((path) => options.failing?.includes(path))
          const ok = paths.filter((path) => !options.failing?.includes(path))
          return Effect.as(Ref.update(removed, (all) => [...all, ...ok]), { removed: ok, failed })
        }
      })).pipe(withMethodSpans("AuthSessionMediaStore"))
  ).pipe(Layer.provideMerge(Layer.effect(RemovedMedia, Ref.make<ReadonlyArray<string>>([]))))
