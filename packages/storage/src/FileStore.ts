import type { Effect, Stream } from "effect"
import { Data } from "effect"

/** A file the store wrote: `path` is the name the store generated (`<uuid>.<extension>`). */
export interface StoredFile {
  readonly path: string
  readonly sizeBytes: number
}

/** What a removal did: files gone (or already absent) and files that could not be removed. */
export interface Removal {
  readonly removed: ReadonlyArray<string>
  readonly failed: ReadonlyArray<string>
}

/** A stored file that cannot be read: gone (`NotFound`), or the disk or the object store failed. */
export class ReadError extends Data.TaggedError("ReadError")<{
  readonly path: string
  readonly reason: "NotFound" | "Failed"
  readonly cause?: unknown
}> {
  override get message() {
    return `${this.reason === "NotFound" ? "No stored file" : "Cannot read the stored file"} ${this.path}`
  }
}

/**
 * One place of uploaded files, under names the server generates: a local folder
 * (`LocalFileStore`) or a prefix of an S3-compatible bucket (`S3FileStore`). `FileStores` opens
 * the stores of the configured backend. The contract both keep is `test/FileStoreContract.ts`.
 */
export interface FileStoreShape {
  /**
   * Streams `content` into a new file named `<id>.<extension>` (`id` a UUID the server made, a
   * fresh one when absent), with memory bounded whatever the size. Content that fails (a check the
   * caller runs in the stream, a client that goes away), an extension that fails, or an
   * interruption leaves nothing behind. `extension` is asked once the content is complete, so a
   * caller may decide it from the bytes. Storage errors are defects.
   */
  readonly put: <E, E2 = never>(
    content: Stream.Stream<Uint8Array, E>,
    options: { readonly id?: string | undefined; readonly extension: string | Effect.Effect<string, E2> }
  ) => Effect.Effect<StoredFile, E | E2>
  /** Streams a stored file; a name the store did not generate is a defect. */
  readonly read: (path: string) => Stream.Stream<Uint8Array, ReadError>
  /**
   * Deletes files; one already gone counts as removed. Never fails: a name the store did not
   * generate is refused and one that cannot be removed is logged, and both are reported as failed.
   */
  readonly remove: (paths: ReadonlyArray<string>) => Effect.Effect<Removal>
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const extensionPattern = /^[a-z0-9]{1,8}$/
const storedName = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.[a-z0-9]{1,8}$/

/** The id of a new file: the caller's (which must be a UUID) or a fresh one. */
export const fileId = (id: string | undefined): string => {
  const chosen = id ?? crypto.randomUUID()
  if (!uuid.test(chosen)) throw new Error(`A stored file's id must be a UUID: ${JSON.stringify(id)}`)
  return chosen
}

export const checkExtension = (extension: string): string => {
  if (!extensionPattern.test(extension)) throw new Error(`Not a file extension: ${JSON.stringify(extension)}`)
  return extension
}

/**
 * The id of `name` when it is one the stores generate (`<uuid>.<extension>`), else `undefined`:
 * a corrupted row can never point the server at `../../etc/passwd`, an unfinished upload, or a
 * file it did not write.
 */
export const storedId = (name: string): string | undefined => storedName.exec(name)?.[1]
