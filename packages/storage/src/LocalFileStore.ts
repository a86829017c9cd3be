import { FileSystem } from "@effect/platform"
import { Effect, Exit, Stream } from "effect"
import * as Path from "node:path"
import { checkExtension, fileId, ReadError, storedId } from "./FileStore.js"
import type { FileStoreShape } from "./FileStore.js"

class OutsideFolder extends Error {}

/**
 * A store over the local folder `dir` (made if missing). A put writes a `.<id>.part` file beside
 * the stored ones, renamed into place once complete. Stored files are named by their name, or by
 * their absolute path inside the folder (rows written before names were kept).
 */
export const make = (dir: string): Effect.Effect<FileStoreShape, never, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const root = Path.resolve(dir)
    yield* fs.makeDirectory(root, { recursive: true }).pipe(Effect.orDie)

    const resolve = (path: string): string => {
      const resolved = Path.resolve(root, path)
      if (Path.dirname(resolved) !== root || storedId(Path.basename(resolved)) === undefined) {
        throw new OutsideFolder(`Not a stored file of ${root}: ${JSON.stringify(path)}`)
      }
      return resolved
    }

    const put: FileStoreShape["put"] = (content, options) =>
      Effect.gen(function*() {
        const id = yield* Effect.try({ try: () => fileId(options.id), catch: (error) => error }).pipe(Effect.orDie)
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
        yield* Effect.try({ try: () => checkExtension(extension), catch: (error) => error }).pipe(Effect.orDie)
        const path = `${id}.${extension}`
        yield* fs.rename(partPath, Path.join(root, path)).pipe(Effect.orDie)
        return { path, sizeBytes: size }
      }).pipe(Effect.scoped, Effect.withSpan("FileStore.put", { attributes: { store: root } }))

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
      read: (path) =>
        Stream.unwrap(Effect.sync(() =>
          fs.stream(resolve(path)).pipe(
            Stream.mapError((error) =>
              new ReadError({
                path,
                reason: error._tag === "SystemError" && error.reason === "NotFound" ? "NotFound" : "Failed",
                cause: error
              })
            )
          )
        )),
      remove: (paths) =>
        Effect.forEach(paths, (path) => Effect.map(removeOne(path), (ok) => [path, ok] as const), { concurrency: 8 })
          .pipe(
            Effect.map((results) => ({
              removed: results.filter(([, ok]) => ok).map(([path]) => path),
              failed: results.filter(([, ok]) => !ok).map(([path]) => path)
            })),
            Effect.withSpan("FileStore.remove", { attributes: { store: root } })
          )
    }
  })
