import { FileSystem } from "@effect/platform"
import type { Chunk } from "effect"
import { Effect, Exit, Stream } from "effect"
import * as Fs from "node:fs"
import * as FsP from "node:fs/promises"
import * as Path from "node:path"
import { checkExtension, fileId, ReadError, storedId } from "./FileStore.js"
import type { FileStoreShape } from "./FileStore.js"

class OutsideFolder extends Error {}

/**
 * How much a put may hold in memory while the disk catches up. The write stream queues incoming
 * chunks while a write is in flight and hands them to one `writev`, so the network and the disk
 * work at the same time and a 1 GiB upload is a few thousand large writes, not one write (and one
 * wait) per network packet.
 */
const WRITE_BUFFER_BYTES = 8 * 1024 * 1024

/** An open new file written through a buffered stream, fsynced once on close. */
const makeSink = (path: string, file: FsP.FileHandle) => {
  const stream = Fs.createWriteStream(path, { fd: file, highWaterMark: WRITE_BUFFER_BYTES, flush: true })
  let failure: Error | undefined
  stream.on("error", (error) => {
    failure = error
  })
  const settled = (event: "drain" | "close") =>
    Effect.async<void>((resume) => {
      const done = () => {
        stream.off(event, done)
        stream.off("close", done)
        resume(failure === undefined ? Effect.void : Effect.die(failure))
      }
      if (stream.closed) return done()
      stream.on(event, done)
      // A failed stream closes without draining.
      stream.on("close", done)
      return Effect.sync(() => {
        stream.off(event, done)
        stream.off("close", done)
      })
    })
  return {
    /** Queues the bytes; waits only when the buffer is full. */
    write: (chunk: Chunk.Chunk<Uint8Array>): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (failure !== undefined) return Effect.die(failure)
        let room = true
        for (const bytes of chunk) room = stream.write(bytes)
        return room ? Effect.void : settled("drain")
      }),
    /** Writes what is queued, fsyncs and closes; a storage error is a defect. */
    close: Effect.suspend(() => {
      stream.end()
      return settled("close")
    }),
    /**
     * Abandons the file: closed before the caller removes it. Writes still queued fail with
     * ERR_STREAM_DESTROYED; that failure, or any other, is not the caller's business any more.
     */
    discard: Effect.suspend(() => {
      stream.destroy()
      return Effect.asVoid(Effect.exit(settled("close")))
    })
  }
}

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
        const sink = yield* Effect.acquireRelease(
          // Opened before any byte is read (`wx`: never an existing file), so that the part file
          // exists from the start and an open that fails costs the client nothing.
          Effect.map(
            Effect.orDie(Effect.tryPromise(() => FsP.open(partPath, "wx"))),
            (file) => makeSink(partPath, file)
          ),
          (sink, exit) =>
            Exit.isSuccess(exit) ? Effect.void : Effect.ensuring(sink.discard, fs.remove(partPath).pipe(Effect.ignore))
        )
        let size = 0
        yield* Stream.runForEachChunk(content, (chunk) => {
          for (const bytes of chunk) size += bytes.length
          return sink.write(chunk)
        })
        yield* sink.close
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
        )).pipe(Stream.withSpan("FileStore.read", { attributes: { store: root } })),
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
