import { FileSystem } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { Context, Effect, Exit, Layer, Stream } from "effect"
import * as Path from "node:path"

/** A file the store wrote: its path relative to the folder, a name the store generated. */
export interface StoredFile {
  readonly path: string
  readonly sizeBytes: number
}

/** What a removal did: files gone (or already absent) and files that could not be removed. */
export interface Removal {
  readonly removed: ReadonlyArray<string>
  readonly failed: ReadonlyArray<string>
}

export interface FileStoreShape {
  /**
   * Streams `content` into a new file named `<id>.<extension>` (`id` a UUID the server made, a fresh
   * one when absent), through a `.<id>.part` file renamed into place only once complete: content that
   * fails (a check the caller runs in the stream, a client that goes away) or an interruption
   * leaves nothing behind. `extension` is asked once the content is complete, so a caller may
   * decide it from the bytes. Disk errors are defects.
   */
  readonly put: <E, E2 = never>(
    content: Stream.Stream<Uint8Array, E>,
    options: { readonly id?: string | undefined; readonly extension: string | Effect.Effect<string, E2> }
  ) => Effect.Effect<StoredFile, E | E2>
  readonly read: (path: string) => Stream.Stream<Uint8Array, PlatformError>
  /**
   * Deletes files; one already gone counts as removed. Never fails: a path outside the folder is
   * refused and one that cannot be removed is logged, and both are reported as failed.
   */
  readonly remove: (paths: ReadonlyArray<string>) => Effect.Effect<Removal>
  /** The absolute path of a stored file (local consumers that hand a path to a library). */
  readonly absolutePath: (path: string) => string
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const extensionPattern = /^[a-z0-9]{1,8}$/
const storedName = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.[a-z0-9]{1,8}$/

class OutsideFolder extends Error {}

/** A store over the local folder `dir` (made if missing). */
export const make = (dir: string): Effect.Effect<FileStoreShape, never, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const root = Path.resolve(dir)
    yield* fs.makeDirectory(root, { recursive: true }).pipe(Effect.orDie)

    // Relative paths resolve against the folder, absolute ones must already be in it, and either
    // way the name must be one the store generates: a corrupted row can never point the server at
    // `../../etc/passwd`, an unfinished upload, or a file it did not write.
    const resolve = (path: string): string => {
      const resolved = Path.resolve(root, path)
      if (Path.dirname(resolved) !== root || !storedName.test(Path.basename(resolved))) {
        throw new OutsideFolder(`Not a stored file of ${root}: ${JSON.stringify(path)}`)
      }
      return resolved
    }

    const put: FileStoreShape["put"] = (content, options) =>
      Effect.gen(function*() {
        const id = options.id ?? crypto.randomUUID()
        if (!uuid.test(id)) return yield* Effect.dieMessage(`A stored file's id must be a UUID: ${JSON.stringify(id)}`)
        // A dot file beside the stored ones: the same disk, so the rename is atomic, and a name
        // `resolve` refuses, so an unfinished upload is never read or served.
        const partPath = Path.join(root, `.${id}.part`)
        const file = yield* fs.open(partPath, { flag: "wx" }).pipe(Effect.orDie)
        yield* Effect.addFinalizer((exit) =>
          Exit.isSuccess(exit) ? Effect.void : fs.remove(partPath).pipe(Effect.ignore)
        )
        let size = 0
        yield* Stream.runForEach(content, (chunk) => {
          size += chunk.length
          return file.writeAll(chunk).pipe(Effect.orDie)
        })
        yield* file.sync.pipe(Effect.orDie)
        const extension = typeof options.extension === "string" ? options.extension : yield* options.extension
        if (!extensionPattern.test(extension)) {
          return yield* Effect.dieMessage(`Not a file extension: ${JSON.stringify(extension)}`)
        }
        const path = `${id}.${extension}`
        yield* fs.rename(partPath, Path.join(root, path)).pipe(Effect.orDie)
        return { path, sizeBytes: size }
      }).pipe(Effect.scoped, Effect.withSpan("FileStore.put"))

    const removeOne = (path: string): Effect.Effect<boolean> =>
      Effect.try({ try: () => resolve(path), catch: (error) => error }).pipe(
        Effect.flatMap((resolved) => fs.remove(resolved, { force: true })),
        Effect.as(true),
        Effect.catchAll((error) =>
          Effect.as(
            Effect.logWarning(error instanceof OutsideFolder ? "path outside the folder refused" : "file not removed")
              .pipe(Effect.annotateLogs({ path, root, error: String(error) })),
            false
          )
        )
      )

    return {
      put,
      read: (path) => Stream.unwrap(Effect.sync(() => fs.stream(resolve(path)))),
      remove: (paths) =>
        Effect.forEach(paths, (path) => Effect.map(removeOne(path), (ok) => [path, ok] as const), { concurrency: 8 })
          .pipe(
            Effect.map((results) => ({
              removed: results.filter(([, ok]) => ok).map(([path]) => path),
              failed: results.filter(([, ok]) => !ok).map(([path]) => path)
            })),
            Effect.withSpan("FileStore.remove")
          ),
      absolutePath: resolve
    }
  })

/**
 * Where uploaded files are kept. `layer` is a local folder; another implementation (an object
 * store) provides the same shape.
 */
export class FileStore extends Context.Tag("@clinic/storage/FileStore")<FileStore, FileStoreShape>() {
  static readonly layer = (dir: string): Layer.Layer<FileStore, never, FileSystem.FileSystem> =>
    Layer.effect(FileStore, make(dir))
}
