import { HttpApi, OpenApi } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Either, Schema } from "effect"
import type { RecordingStatus } from "../src/index.js"
import {
  ClinicalNotes,
  ListRecordingsParams,
  PatientId,
  RateLimited,
  Recording,
  RecordingId,
  RecordingPath,
  RecordingsApi,
  Sha256Hex,
  transition,
  UserId
} from "../src/index.js"

const T0 = DateTime.unsafeMake("2026-03-02T09:00:00.000Z")
const later = DateTime.unsafeMake("2026-03-02T09:05:00.000Z")

const recording = (status: RecordingStatus) =>
  new Recording({
    id: RecordingId.make("0b6c5d3e-7a3f-4c51-9d0e-2a4b8c6d1e2f"),
    therapistId: UserId.make("1b6c5d3e-7a3f-4c51-9d0e-2a4b8c6d1e2f"),
    patientId: PatientId.make("2b6c5d3e-7a3f-4c51-9d0e-2a4b8c6d1e2f"),
    status,
    originalFilename: "session.mp3",
    storedPath: "0b6c5d3e-7a3f-4c51-9d0e-2a4b8c6d1e2f.mp3",
    format: "mp3",
    mimeType: "audio/mpeg",
    sizeBytes: 2048,
    sha256: Sha256Hex.make("a".repeat(64)),
    error: null,
    attempts: 0,
    createdAt: T0,
    updatedAt: T0
  })

describe("Recording status transitions", () => {
  it("walks the happy path, counting one attempt per working step", () => {
    let current = recording("uploaded")
    for (const to of ["transcribing", "transcribed", "extracting", "completed"] as const) {
      current = Either.getOrThrow(transition(current, to, later))
      assert.strictEqual(current.status, to)
    }
    assert.strictEqual(current.attempts, 2)
    assert.strictEqual(current.updatedAt.epochMillis, later.epochMillis)
  })

  it("failed records the error; a retry clears it and counts another attempt", () => {
    const transcribing = Either.getOrThrow(transition(recording("uploaded"), "transcribing", later))
    const failed = Either.getOrThrow(transition(transcribing, "failed", later, "provider answered 503"))
    assert.strictEqual(failed.error, "provider answered 503")
    assert.strictEqual(failed.attempts, 1)
    const retried = Either.getOrThrow(transition(failed, "transcribing", later))
    assert.strictEqual(retried.error, null)
    assert.strictEqual(retried.attempts, 2)
  })

  it("refuses skipping steps and leaving completed except to re-extract or a new transcript", () => {
    const refused = [
      ["uploaded", "completed"],
      ["uploaded", "extracting"],
      ["transcribing", "completed"],
      ["transcribed", "completed"],
      ["completed", "uploaded"],
      ["completed", "failed"],
      ["failed", "completed"]
    ] as const
    for (const [from, to] of refused) {
      const result = transition(recording(from), to, later)
      assert.isTrue(Either.isLeft(result), `${from} -> ${to}`)
      if (Either.isLeft(result)) {
        assert.strictEqual(result.left._tag, "InvalidTransition")
        assert.strictEqual(result.left.from, from)
      }
    }
    assert.isTrue(Either.isRight(transition(recording("completed"), "extracting", later)))
    assert.isTrue(Either.isRight(transition(recording("uploaded"), "transcribed", later)))
  })
})

describe("Recording contract schemas", () => {
  it("a malformed recording id in the path is refused (400), a UUID accepted", () => {
    for (const id of ["abc", "1", "../etc", "0b6c5d3e-7a3f-4c51-9d0e-2a4b8c6d1e2", "' OR 1=1 --"]) {
      assert.isTrue(Either.isLeft(Schema.decodeUnknownEither(RecordingPath)({ id })), id)
    }
    assert.isTrue(
      Either.isRight(Schema.decodeUnknownEither(RecordingPath)({ id: "0b6c5d3e-7a3f-4c51-9d0e-2a4b8c6d1e2f" }))
    )
  })

  it("list params: limit 1..100 with a default, unknown status and malformed ids refused", () => {
    const decode = Schema.decodeUnknownEither(ListRecordingsParams)
    assert.strictEqual(Either.getOrThrow(decode({})).limit, undefined)
    assert.strictEqual(Either.getOrThrow(decode({ limit: "100", status: "failed" })).limit, 100)
    for (
      const bad of [
        { limit: "0" },
        { limit: "101" },
        { limit: "2.5" },
        { limit: "ten" },
        { status: "deleted" },
        { patientId: "1 OR 1=1" }
      ]
    ) {
      assert.isTrue(Either.isLeft(decode(bad)), JSON.stringify(bad))
    }
  })

  it("clinical notes and rate-limit errors encode as the API sends them", () => {
    const notes = Schema.decodeUnknownSync(ClinicalNotes)({
      summary: "s",
      topics: ["sleep"],
      mood: "anxious",
      risks: [{ description: "none reported", severity: "low" }],
      followUpActions: ["diary"]
    })
    assert.strictEqual(notes.risks[0].severity, "low")
    assert.isTrue(Either.isLeft(Schema.decodeUnknownEither(ClinicalNotes)({ summary: "s" })))
    const encoded = Schema.encodeSync(RateLimited)(
      new RateLimited({ message: "m", action: "upload", limit: 10, windowSeconds: 3600, retryAfter: 12 })
    )
    assert.deepStrictEqual({ tag: encoded._tag, retryAfter: encoded.retryAfter }, {
      tag: "RateLimited",
      retryAfter: 12
    })
  })
})

describe("RecordingsApi", () => {
  it("builds an OpenAPI document with a multipart upload and the error statuses", () => {
    const spec = OpenApi.fromApi(HttpApi.make("test").add(RecordingsApi))
    const upload = spec.paths["/recordings"].post!
    assert.isDefined(upload.requestBody?.content["multipart/form-data"])
    const statuses = Object.keys(upload.responses).sort()
    assert.deepStrictEqual(statuses, ["201", "400", "401", "404", "413", "415", "429"])
    assert.isDefined(spec.paths["/recordings/{id}/extract-notes"].post!.responses["409"])
    assert.deepStrictEqual(Object.keys(spec.paths["/recordings/{id}"].delete!.responses).sort(), [
      "204",
      "400",
      "401",
      "404"
    ])
    assert.isDefined(spec.paths["/recordings"].get!.responses["400"])
  })
})
