import { notFound, PatientId, RecordingId } from "@clinic/domain"
import { FileStores } from "@clinic/storage"
import { FileSystem, Multipart } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Ref, Stream } from "effect"
import { createHash } from "node:crypto"
import * as Path from "node:path"
import { RecordingsConfig } from "../src/RecordingsConfig.js"
import { RecordingStore } from "../src/RecordingStore.js"
import * as UploadForm from "../src/UploadForm.js"
import { audioBytes, chunked, heads } from "./audio.js"

type FormPart =
  | { readonly field: string; readonly value: string }
  | { readonly file: string; readonly filename: string; readonly contentType: string; readonly data: Uint8Array }

const encoder = new TextEncoder()

/** The parts as a server parses them from a real multipart body arriving in small chunks. */
const partsOf = (form: ReadonlyArray<FormPart>, chunkSize = 1000) => {
  const boundary = "----clinic-test-boundary"
  const pieces: Array<Uint8Array> = []
  for (const part of form) {
    if ("field" in part) {
      pieces.push(
        encoder.encode(
          `--${boundary}\r\nContent-Disposition: form-data; name="${part.field}"\r\n\r\n${part.value}\r\n`
        )
      )
    } else {
      pieces.push(encoder.encode(
        `--${boundary}\r\nContent-Disposition: form-data; name="${part.file}"; filename="${part.filename}"\r\n` +
          `Content-Type: ${part.contentType}\r\n\r\n`
      ))
      pieces.push(part.data)
      pieces.push(encoder.encode("\r\n"))
    }
  }
  pieces.push(encoder.encode(`--${boundary}--\r\n`))
  const body = Buffer.concat(pieces)
  return Stream.fromIterable(chunked(new Uint8Array(body), chunkSize)).pipe(
    Stream.pipeThroughChannel(Multipart.makeChannel({ "content-type": `multipart/form-data; boundary=${boundary}` }))
  )
}

const patientId = PatientId.make("2b6c5d3e-7a3f-4c51-9d0e-2a4b8c6d1e2f")
const mp3 = audioBytes(heads.mp3Id3, 20_000)
const mp3Part = (filename = "session.mp3", contentType = "audio/mpeg", data = mp3): FormPart => ({
  file: "file",
  filename,
  contentType,
  data
})

const setup = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const storageDir = yield* fs.makeTempDirectoryScoped({ prefix: "upload-form-test-" })
  const config = RecordingsConfig.layerTest({ storageDir, maxUploadBytes: 50_000 })
  const context = yield* Layer.build(
    Layer.merge(RecordingStore.layer.pipe(Layer.provide([config, FileStores.FileStores.layerLocal])), config)
  )
  const files = fs.readDirectory(storageDir, { recursive: true }).pipe(
    Effect.flatMap(
      Effect.filter((entry) => fs.stat(Path.join(storageDir, entry)).pipe(Effect.map((info) => info.type === "File")))
    )
  )
  const authorized = yield* Ref.make<ReadonlyArray<{ readonly patientId: string; readonly filesThen: number }>>([])
  const receive = (
    parts: ReturnType<typeof partsOf>,
    allow: (id: PatientId) => boolean = () => true
  ) =>
    UploadForm.receive(parts, {
      id: RecordingId.make(crypto.randomUUID()),
      authorize: (id) =>
        Effect.gen(function*() {
          yield* Ref.update(authorized, (all) => [...all, { patientId: id, filesThen: 0 }])
          const count = (yield* files).length
          yield* Ref.update(
            authorized,
            (all) => all.map((a, i) => i === all.length - 1 ? { ...a, filesThen: count } : a)
          )
          if (!allow(id)) return yield* Effect.fail(notFound("Patient", id))
        })
    }).pipe(Effect.provide(context))
  return { files, receive, authorized: Ref.get(authorized) }
}).pipe(Effect.provide(NodeFileSystem.layer))

describe("UploadForm", () => {
  it.scoped("patient first: authorised before any byte is stored, then the file is streamed and hashed", () =>
    Effect.gen(function*() {
      const { authorized, files, receive } = yield* setup
      const upload = yield* receive(partsOf([{ field: "patientId", value: patientId }, mp3Part()]))
      assert.strictEqual(upload.patientId, patientId)
      assert.deepStrictEqual(upload.declared, {
        format: "mp3",
        originalFilename: "session.mp3",
        mimeType: "audio/mpeg"
      })
      assert.strictEqual(upload.stored.sizeBytes, mp3.length)
      assert.strictEqual(upload.stored.sha256, createHash("sha256").update(mp3).digest("hex"))
      assert.deepStrictEqual(yield* authorized, [{ patientId, filesThen: 0 }])
      assert.deepStrictEqual(yield* files, [upload.stored.storedPath])
    }))

  it.scoped("file first: a patient that is not the therapist's is 404 and the stored file is removed", () =>
    Effect.gen(function*() {
      const { files, receive } = yield* setup
      const error = yield* Effect.flip(
        receive(partsOf([mp3Part(), { field: "patientId", value: patientId }]), () => false)
      )
      assert.strictEqual(error._tag, "NotFound")
      assert.deepStrictEqual(yield* files, [])
      const ok = yield* receive(
        partsOf([mp3Part(), { field: "other", value: "x" }, { field: "patientId", value: patientId }])
      )
      assert.strictEqual(ok.patientId, patientId)
    }))

  it.scoped("missing parts are 400 MissingField, a malformed patient id 400 InvalidField, nothing left", () =>
    Effect.gen(function*() {
      const { files, receive } = yield* setup
      const noFile = yield* Effect.flip(receive(partsOf([{ field: "patientId", value: patientId }])))
      assert.deepInclude(noFile, { _tag: "MissingField", field: "file" })
      const noPatient = yield* Effect.flip(receive(partsOf([mp3Part()])))
      assert.deepInclude(noPatient, { _tag: "MissingField", field: "patientId" })
      for (const value of ["1 OR 1=1", "'; DROP TABLE patients; --", ""]) {
        const bad = yield* Effect.flip(receive(partsOf([mp3Part(), { field: "patientId", value }])))
        assert.deepInclude(bad, { _tag: "InvalidField", field: "patientId" }, value)
      }
      const twoFiles = yield* Effect.flip(
        receive(partsOf([{ field: "patientId", value: patientId }, mp3Part(), mp3Part()]))
      )
      assert.strictEqual(twoFiles._tag, "InvalidField")
      assert.deepStrictEqual(yield* files, [])
    }))

  it.scoped("every invalid file variant is refused with its status and leaves no file", () =>
    Effect.gen(function*() {
      const { files, receive } = yield* setup
      const cases: ReadonlyArray<readonly [FormPart, string]> = [
        [mp3Part("notes.txt", "text/plain"), "UnsupportedMediaType"],
        [mp3Part("session.ogg", "audio/ogg"), "UnsupportedMediaType"],
        [mp3Part("session.mp3", "image/png"), "UnsupportedMediaType"],
        // Parsed as a field by the platform, still a file the client meant: refused as not audio.
        [mp3Part("session.mp3", "application/json"), "UnsupportedMediaType"],
        [mp3Part("session.mp3", "audio/mpeg", audioBytes(heads.wav, 20_000)), "UnsupportedMediaType"],
        [mp3Part("session.wav", "audio/wav", audioBytes(heads.text, 20_000)), "UnsupportedMediaType"],
        [mp3Part("session.mp3", "audio/mpeg", audioBytes(heads.mp3Id3, 500)), "FileTooSmall"],
        [mp3Part("session.mp3", "audio/mpeg", audioBytes(heads.mp3Id3, 50_001)), "PayloadTooLarge"]
      ]
      for (const [part, expected] of cases) {
        const error = yield* Effect.flip(receive(partsOf([{ field: "patientId", value: patientId }, part])))
        assert.strictEqual(error._tag, expected, JSON.stringify({ ...part, data: undefined }))
      }
      assert.deepStrictEqual(yield* files, [])
    }))

  it.scoped("the parser's failures become the API's errors, and a file stored before them is removed", () =>
    Effect.gen(function*() {
      const { files, receive } = yield* setup
      const failing = (reason: Multipart.MultipartError["reason"]) =>
        receive(
          Stream.concat(
            partsOf([{ field: "patientId", value: patientId }, mp3Part()]),
            Stream.fail(new Multipart.MultipartError({ reason, cause: "test" }))
          )
        )
      const cases = [
        ["FileTooLarge", { _tag: "PayloadTooLarge", maxBytes: 50_000 }],
        ["BodyTooLarge", { _tag: "PayloadTooLarge", maxBytes: 50_000 }],
        ["FieldTooLarge", { _tag: "InvalidField", field: "form" }],
        ["TooManyParts", { _tag: "MalformedUpload" }],
        ["Parse", { _tag: "MalformedUpload" }]
      ] as const
      for (const [reason, expected] of cases) {
        const error = yield* Effect.flip(failing(reason))
        assert.deepInclude(error, expected, reason)
      }
      // The parser's own failure is a defect, not a client error.
      const internal = yield* Effect.exit(failing("InternalError"))
      assert.isTrue(Exit.isFailure(internal) && !Exit.isInterrupted(internal))
      assert.isTrue(Exit.isFailure(internal) && internal.cause._tag === "Die")
      assert.deepStrictEqual(yield* files, [])
    }))

  it.scoped("a second patientId, a part whose name was lost, and unknown parts", () =>
    Effect.gen(function*() {
      const { files, receive } = yield* setup
      const twice = yield* Effect.flip(receive(partsOf([
        { field: "patientId", value: patientId },
        mp3Part(),
        { field: "patientId", value: patientId }
      ])))
      assert.deepInclude(twice, { _tag: "InvalidField", field: "patientId", message: "patientId was given twice" })
      // A quoted filename beyond U+00FF sent raw: the parser loses the part's name.
      const nameless = yield* Effect.flip(receive(partsOf([
        { field: "patientId", value: patientId },
        mp3Part("séance 🎙.mp3")
      ])))
      assert.deepInclude(nameless, { _tag: "InvalidField", field: "file" })
      assert.deepStrictEqual(yield* files, [])
      // Surrounding blanks around the id are trimmed; a file part under another name is skipped.
      const ok = yield* receive(partsOf([
        { field: "patientId", value: ` ${patientId}\t` },
        { file: "attachment", filename: "notes.txt", contentType: "text/plain", data: encoder.encode("hello") },
        mp3Part()
      ]))
      assert.strictEqual(ok.patientId, patientId)
      assert.strictEqual(ok.declared.originalFilename, "session.mp3")
      assert.deepStrictEqual(yield* files, [ok.stored.storedPath])
    }))

  it.scoped("wav and m4a are accepted; hostile filenames are kept as inert metadata only", () =>
    Effect.gen(function*() {
      const { files, receive } = yield* setup
      const wav = yield* receive(partsOf([
        { field: "patientId", value: patientId },
        mp3Part("../../../etc/cron.d/evil.wav", "audio/x-wav", audioBytes(heads.wav, 4096))
      ]))
      assert.strictEqual(wav.declared.originalFilename, "evil.wav")
      assert.match(wav.stored.storedPath, /^[0-9a-f-]{36}\.wav$/)
      const m4a = yield* receive(partsOf([
        { field: "patientId", value: patientId },
        mp3Part("Robert'); DROP TABLE recordings;--.m4a", "audio/mp4", audioBytes(heads.m4aMp42, 4096))
      ]))
      assert.strictEqual(m4a.declared.originalFilename, "Robert'); DROP TABLE recordings;--.m4a")
      assert.strictEqual((yield* files).length, 2)
    }))
})
