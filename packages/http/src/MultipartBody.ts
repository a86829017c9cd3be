import { type FileSystem, Multipart } from "@effect/platform"
import * as NodeStream from "@effect/platform-node/NodeStream"
import { Effect, Inspectable, Option, Stream } from "effect"
import { decodeField } from "multipasta"
import * as MP from "multipasta/node"
import type { IncomingHttpHeaders } from "node:http"
import type { Readable } from "node:stream"

/**
 * The boundary of a `multipart/form-data` content type, or why there is none usable (RFC 2046:
 * 1 to 70 characters from a small alphabet, not ending in a space).
 */
export const boundaryOf = (contentType: string): { readonly boundary: string } | { readonly problem: string } => {
  const match = /;\s*boundary=(?:"([^"]*)"|([^;\s]*))/i.exec(contentType)
  if (match === null) return { problem: "multipart/form-data needs a boundary parameter" }
  const boundary = match[1] ?? match[2] ?? ""
  return /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/.test(boundary)
    ? { boundary }
    : { problem: "the multipart boundary is not valid (1 to 70 characters, RFC 2046)" }
}

// `filename="..."` as browsers, curl and fetch send it: raw UTF-8 between quotes. The parser's
// RFC 7231 grammar stops at U+00FF and then drops the whole header, name included.
const RAW_PARAMETER = /;\s*([A-Za-z*]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/g

const dispositionOf = (header: string | ReadonlyArray<string> | undefined) => {
  const parameters: Record<string, string> = {}
  if (typeof header !== "string") return parameters
  for (const match of header.matchAll(RAW_PARAMETER)) {
    const value = match[2] !== undefined ? match[2].replace(/\\(.)/g, "$1") : match[3]
    parameters[match[1].toLowerCase()] = value
  }
  return parameters
}

/** The part's form name and filename, read again by hand where the parser lost them. */
const namesOf = (info: MP.PartInfo): { readonly name: string; readonly filename: string | undefined } => {
  if (info.name !== "") return { name: info.name, filename: info.filename }
  const raw = dispositionOf(info.headers["content-disposition"])
  return { name: raw.name ?? "", filename: raw.filename }
}

const isFile = (info: MP.PartInfo) =>
  namesOf(info).filename !== undefined || info.contentType === "application/octet-stream"

class FieldPart extends Inspectable.Class implements Multipart.Field {
  readonly [Multipart.TypeId]: Multipart.TypeId = Multipart.TypeId
  readonly _tag = "Field"
  readonly key: string
  readonly contentType: string
  readonly value: string
  constructor(info: MP.PartInfo, value: Uint8Array) {
    super()
    this.key = namesOf(info).name
    this.contentType = info.contentType
    this.value = decodeField(info, value)
  }
  toJSON(): unknown {
    return { _id: "@effect/platform/Multipart/Part", _tag: "Field", key: this.key, contentType: this.contentType }
  }
}

class FilePart extends Inspectable.Class implements Multipart.File {
  readonly [Multipart.TypeId]: Multipart.TypeId = Multipart.TypeId
  readonly _tag = "File"
  readonly key: string
  readonly name: string
  readonly contentType: string
  readonly content: Stream.Stream<Uint8Array, Multipart.MultipartError>
  readonly contentEffect: Effect.Effect<Uint8Array, Multipart.MultipartError>
  constructor(file: MP.FileStream) {
    super()
    const names = namesOf(file.info)
    this.key = names.name
    this.name = names.filename ?? names.name
    this.contentType = file.info.contentType
    const onFailure = (cause: unknown) => toMultipartError(cause)
    // The parser reports a body that ends inside this file on the file itself, possibly before
    // anyone reads it: such a file fails when it is read, rather than never ending.
    const failed = () => fileErrors.get(file)
    this.content = Stream.suspend(() => {
      const error = failed()
      return error === undefined ? NodeStream.fromReadable(() => file, onFailure) : Stream.fail(onFailure(error))
    })
    this.contentEffect = Effect.suspend(() => {
      const error = failed()
      return error === undefined ? NodeStream.toUint8Array(() => file, { onFailure }) : Effect.fail(onFailure(error))
    })
  }
  toJSON(): unknown {
    return { _id: "@effect/platform/Multipart/Part", _tag: "File", key: this.key, name: this.name }
  }
}

/** What a file part may hold while its reader is busy (the store writes in the meantime). */
const FILE_BUFFER_BYTES = 4 * 1024 * 1024

const fileErrors = new WeakMap<MP.FileStream, unknown>()

/** Signals a body that ended (or was empty) before the closing boundary. */
const endNotReached: MP.MultipartError = { _tag: "EndNotReached" }

const toMultipartError = (cause: unknown): Multipart.MultipartError => {
  if (cause instanceof Multipart.MultipartError) return cause
  const error = cause as Partial<MP.MultipartError>
  if (error._tag === "ReachedLimit") {
    const reason = ({
      MaxParts: "TooManyParts",
      MaxFieldSize: "FieldTooLarge",
      MaxPartSize: "FileTooLarge",
      MaxTotalSize: "BodyTooLarge"
    } as const)[error.limit!]
    return new Multipart.MultipartError({ reason, cause })
  }
  return new Multipart.MultipartError({ reason: "Parse", cause })
}

/** The limits an endpoint declares (`HttpApiSchema.MultipartStream(schema, limits)`). */
export type Limits = Multipart.withLimits.Options

const parserLimits = (limits: Limits) => {
  const size = (value: Option.Option<FileSystem.SizeInput> | undefined) =>
    value === undefined ? undefined : Option.getOrUndefined(Option.map(value, Number))
  const entries = {
    maxParts: limits.maxParts === undefined ? undefined : Option.getOrUndefined(limits.maxParts),
    maxFieldSize: limits.maxFieldSize === undefined ? undefined : Number(limits.maxFieldSize),
    maxPartSize: size(limits.maxFileSize),
    maxTotalSize: size(limits.maxTotalSize)
  }
  return Object.fromEntries(Object.entries(entries).filter(([, value]) => value !== undefined))
}

/**
 * The parts of a `multipart/form-data` body as they arrive, for a request whose boundary was
 * checked (`boundaryOf`). Unlike the platform's stream, a body that ends before its closing
 * boundary (an empty one included) fails with a `Parse` error instead of never ending, and a raw
 * UTF-8 `filename=` keeps its part's name and filename.
 */
export const stream = (
  source: Readable,
  headers: IncomingHttpHeaders,
  limits: Limits = {}
): Stream.Stream<Multipart.Part, Multipart.MultipartError> =>
  NodeStream.fromReadable<Multipart.MultipartError, MP.Part>(() => {
    const parser = MP.make({ headers, isFile, ...parserLimits(limits) })
    // The parser ends its parts with `push(null)` once it has read the closing boundary, and does
    // nothing at all when the body ends earlier outside a part: watched here, so that such a body
    // fails instead of leaving the request unanswered.
    let done = false
    let failed = false
    const push = parser.push.bind(parser)
    parser.push = (chunk: unknown) => {
      if (chunk === null) done = true
      return push(chunk)
    }
    parser.on("error", () => {
      failed = true
    })
    parser.on("file", (file: MP.FileStream) => {
      file.on("error", (error) => fileErrors.set(file, error))
      // A file part buffers up to FILE_BUFFER_BYTES before the parser stops reading the socket.
      // With Node's default (16 KiB, less than one 64 KiB socket read) the socket was paused and
      // resumed for every read, and the upload crawled at a fraction of the disk's speed.
      // multipasta's FileStream takes no stream options, so its (Node-internal) readable state is
      // raised here; should a Node release rename it, uploads stay correct, only slower.
      const state = (file as unknown as { _readableState?: { highWaterMark?: unknown } })._readableState
      if (state !== undefined && typeof state.highWaterMark === "number") {
        state.highWaterMark = FILE_BUFFER_BYTES
      }
    })
    parser.on("finish", () => {
      if (!done && !failed) parser.destroy(endNotReached as unknown as Error)
    })
    source.pipe(parser)
    return parser
  }, toMultipartError).pipe(
    Stream.map((part): Multipart.Part =>
      part._tag === "Field" ? new FieldPart(part.info, part.value) : new FilePart(part)
    )
  )
