import { DeleteObjectCommand, GetObjectCommand, S3Client } from "@aws-sdk/client-s3"
import { Upload } from "@aws-sdk/lib-storage"
import { NodeStream } from "@effect/platform-node"
import type { Scope } from "effect"
import { Duration, Effect, Exit, Option, Redacted, Stream } from "effect"
import { PassThrough, Readable } from "node:stream"
import { checkExtension, fileId, ReadError, storedId } from "./FileStore.js"
import type { FileStoreShape } from "./FileStore.js"
import type { S3Settings } from "./StorageConfig.js"

/**
 * The multipart part size, S3's minimum. A put holds at most `QUEUE_SIZE` parts in flight plus the
 * one being filled (15 MiB), whatever the file's size; objects up to 50 GB (10,000 parts).
 */
export const PART_SIZE = 5 * 1024 * 1024
const QUEUE_SIZE = 2
const ABANDON_BUDGET = Duration.seconds(30)

/** A client for `settings`, destroyed (its sockets closed) with the scope. */
export const makeClient = (settings: S3Settings): Effect.Effect<S3Client, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() =>
      new S3Client({
        region: settings.region,
        ...Option.match(settings.endpoint, { onNone: () => ({}), onSome: (endpoint) => ({ endpoint }) }),
        forcePathStyle: settings.forcePathStyle,
        ...Option.match(settings.credentials, {
          onNone: () => ({}),
          onSome: ({ accessKeyId, secretAccessKey }) => ({
            credentials: { accessKeyId, secretAccessKey: Redacted.value(secretAccessKey) }
          })
        }),
        // Checksums only where the protocol demands them: the SDK's default (CRC32 trailers on
        // every upload) is not understood by many S3-compatible servers; TLS and the part ETags
        // already guard the bytes in transit.
        requestChecksumCalculation: "WHEN_REQUIRED",
        responseChecksumValidation: "WHEN_REQUIRED"
      })
    ),
    (client) => Effect.sync(() => client.destroy())
  )

const isNotFound = (error: unknown) =>
  typeof error === "object" && error !== null &&
  ((error as { name?: unknown }).name === "NoSuchKey" ||
    (error as { $metadata?: { httpStatusCode?: unknown } }).$metadata?.httpStatusCode === 404)

/** Writes `chunk`, waiting for the body to drain when its buffer is full (bounded memory). */
const write = (body: PassThrough, chunk: Uint8Array): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    if (body.write(chunk)) return resume(Effect.void)
    // A destroyed body (the upload failed) never drains: the upload's own failure ends the put.
    const onDrain = () => resume(Effect.void)
    body.once("drain", onDrain)
    return Effect.sync(() => body.off("drain", onDrain))
  })

/**
 * The store of the keys under `prefix` (`recordings/`) in `bucket`. A file `<id>.<extension>` is
 * the object `<prefix><id>`: the extension is decided once the bytes are in, after the first parts
 * may have gone, so it is part of the stored name (kept in the row) but not of the key.
 */
export const make = (
  client: S3Client,
  options: { readonly bucket: string; readonly prefix: string }
): FileStoreShape => {
  const { bucket, prefix } = options
  const keyOf = (path: string): string | undefined => {
    const id = storedId(path)
    return id === undefined ? undefined : `${prefix}${id}`
  }
  const deleteObject = (key: string) =>
    Effect.tryPromise((signal) =>
      client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal })
    )

  const put: FileStoreShape["put"] = (content, options) =>
    Effect.gen(function*() {
      const id = yield* Effect.try({ try: () => fileId(options.id), catch: (error) => error }).pipe(Effect.orDie)
      const key = `${prefix}${id}`
      const body = new PassThrough()
      const upload = new Upload({
        client,
        params: { Bucket: bucket, Key: key, Body: body },
        partSize: PART_SIZE,
        queueSize: QUEUE_SIZE
      })
      // The upload ends only once the body does, and the body ends only once the content is
      // complete and the extension known: a multipart upload is completed (or, for one part, the
      // object put) only then. Any other ending destroys the body, which makes the upload abort its
      // multipart upload; the object is deleted too in case the last request went through.
      const done = upload.done()
      yield* Effect.addFinalizer((exit) =>
        Exit.isSuccess(exit) ? Effect.void : Effect.gen(function*() {
          body.destroy(new Error("upload abandoned"))
          // The abort request goes once the part in flight is answered.
          yield* Effect.promise(() => done.then(() => undefined, () => undefined))
          yield* deleteObject(key)
        }).pipe(
          // A server that never answers must not hold the caller's release forever.
          Effect.timeoutFail({ duration: ABANDON_BUDGET, onTimeout: () => "no answer in time" }),
          Effect.catchAll((error) =>
            Effect.logWarning("failed upload not cleaned up").pipe(
              Effect.annotateLogs({ bucket, key, error: String(error) })
            )
          )
        )
      )
      let size = 0
      const send = Effect.gen(function*() {
        yield* Stream.runForEach(content, (chunk) => {
          size += chunk.length
          return write(body, chunk)
        })
        const extension = typeof options.extension === "string" ? options.extension : yield* options.extension
        yield* Effect.try({ try: () => checkExtension(extension), catch: (error) => error }).pipe(Effect.orDie)
        body.end()
        return extension
      })
      const [extension] = yield* Effect.all([
        send,
        Effect.tryPromise({ try: () => done, catch: (error) => error }).pipe(Effect.orDie)
      ], { concurrency: 2 })
      return { path: `${id}.${extension}`, sizeBytes: size }
    }).pipe(Effect.scoped, Effect.withSpan("FileStore.put", { attributes: { bucket, prefix } }))

  const read = (path: string): Stream.Stream<Uint8Array, ReadError> =>
    Stream.unwrapScoped(Effect.gen(function*() {
      const key = keyOf(path)
      if (key === undefined) return yield* Effect.dieMessage(`Not a stored file of ${prefix}: ${JSON.stringify(path)}`)
      const response = yield* Effect.tryPromise({
        try: (signal) => client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal }),
        catch: (error) => new ReadError({ path, reason: isNotFound(error) ? "NotFound" : "Failed", cause: error })
      })
      const objectBody = response.Body
      if (!(objectBody instanceof Readable)) {
        return yield* Effect.dieMessage("The S3 client did not answer a Node stream")
      }
      // Released unread (the reader stopped early), the response's socket is freed.
      yield* Effect.addFinalizer(() => Effect.sync(() => objectBody.destroy()))
      return NodeStream.fromReadable<ReadError>(
        () => objectBody,
        (error) => new ReadError({ path, reason: "Failed", cause: error })
      )
    })).pipe(Stream.withSpan("FileStore.read", { attributes: { bucket, prefix } }))

  const removeOne = (path: string): Effect.Effect<boolean> => {
    const key = keyOf(path)
    if (key === undefined) {
      return Effect.as(
        Effect.logWarning("name not generated by the store refused").pipe(
          Effect.annotateLogs({ path, bucket, prefix })
        ),
        false
      )
    }
    // S3 answers a delete of a missing key as a success: already gone counts as removed.
    return deleteObject(key).pipe(
      Effect.as(true),
      Effect.catchAll((error) =>
        Effect.as(
          Effect.logWarning("object not removed").pipe(
            Effect.annotateLogs({ path, bucket, key, error: String(error) })
          ),
          false
        )
      )
    )
  }

  return {
    put,
    read,
    remove: (paths) =>
      Effect.forEach(paths, (path) => Effect.map(removeOne(path), (ok) => [path, ok] as const), { concurrency: 8 })
        .pipe(
          Effect.map((results) => ({
            removed: results.filter(([, ok]) => ok).map(([path]) => path),
            failed: results.filter(([, ok]) => !ok).map(([path]) => path)
          })),
          Effect.withSpan("FileStore.remove", { attributes: { bucket, prefix } })
        )
  }
}
