import { ClinicalNotes } from "@clinic/domain"
import { TaskStore } from "@clinic/queue"
import { RecordingRepo } from "@clinic/repository"
import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Layer, Option, Schema, TestClock } from "effect"
import { audioBytes, heads } from "../../../packages/recordings/test/audio.js"
import {
  del,
  type FilePart,
  get,
  makeTherapist,
  memoryServer,
  post,
  postgresServer,
  publishedTypes,
  putJson,
  startClock,
  storedFiles,
  therapistWithPatient,
  upload
} from "./support/TestApi.js"

const KiB = 1024
const mp3 = (name = "session.mp3", size = 4 * KiB): FilePart => ({
  name,
  type: "audio/mpeg",
  bytes: audioBytes(heads.mp3Id3, size)
})
const wav: FilePart = { name: "session.wav", type: "audio/wav", bytes: audioBytes(heads.wav, 4 * KiB) }
const m4a: FilePart = { name: "session.m4a", type: "audio/mp4", bytes: audioBytes(heads.m4a, 4 * KiB) }

const withServer = (settings: Record<string, string> = {}) =>
  Effect.provide(Layer.merge(memoryServer({ settings }), NodeFileSystem.layer))

const uuidName = /^[0-9a-f-]{36}\.(mp3|wav|m4a)$/

describe("recordings over HTTP (memory)", () => {
  it.effect("valid mp3, wav and m4a uploads: 201 in `uploaded`, stored under generated names, queued, published", () =>
    Effect.gen(function*() {
      yield* startClock
      const { patient, user } = yield* therapistWithPatient
      for (const file of [mp3(), wav, m4a]) {
        const res = yield* upload(user.id, [["patientId", patient.id], ["file", file]])
        assert.strictEqual(res.status, 201, JSON.stringify(res.body))
        assert.strictEqual(res.body.status, "uploaded")
        assert.strictEqual(res.body.patientId, patient.id)
        assert.strictEqual(res.body.therapistId, user.id)
        assert.strictEqual(res.body.sizeBytes, file.bytes.length)
        assert.strictEqual(res.body.originalFilename, file.name)
        assert.match(res.body.storedPath, uuidName)
        // No provider: the client is told why nothing happens.
        assert.match(res.body.waitingReason, /No transcription provider is configured/)
        assert.strictEqual(res.body.createdAt, DateTime.formatIso(yield* DateTime.now))
        assert.strictEqual(res.headers["ratelimit-policy"], "10;w=3600")
      }
      const files = yield* storedFiles
      assert.strictEqual(files.length, 3)
      for (const file of files) assert.match(file, uuidName)

      const tasks = yield* Effect.flatMap(TaskStore, (s) => s.list({ queue: "recordings", limit: 10 }))
      assert.deepStrictEqual(tasks.map((t) => t.name), Array(3).fill("recording.transcribe"))
      assert.deepStrictEqual(yield* publishedTypes, Array(3).fill("recording.uploaded"))
    }).pipe(withServer()))

  it.effect("path traversal, SQL and markup in filenames are kept as harmless metadata", () =>
    Effect.gen(function*() {
      const { patient, user } = yield* therapistWithPatient
      const names = [
        "../../../etc/passwd.mp3",
        "..\\..\\windows\\system32.mp3",
        "'; DROP TABLE recordings; --.mp3",
        "<script>alert(1)</script>.mp3",
        "séance ünïcödé.mp3"
      ]
      for (const name of names) {
        const res = yield* upload(user.id, [["patientId", patient.id], ["file", mp3(name)]])
        assert.strictEqual(res.status, 201, `${name}: ${JSON.stringify(res.body)}`)
        assert.match(res.body.storedPath, uuidName)
        assert.notInclude(res.body.originalFilename, "/")
        assert.notInclude(res.body.originalFilename, "\\")
        assert.notInclude(res.body.originalFilename, "\u0000")
      }
      const files = yield* storedFiles
      assert.strictEqual(files.length, names.length)
      for (const file of files) assert.match(file, uuidName)
      const list = yield* get(user.id, "/recordings?limit=100")
      assert.strictEqual(list.body.items.length, names.length)
    }).pipe(withServer()))

  it.effect("every invalid upload is refused with its status and leaves no file behind", () =>
    Effect.gen(function*() {
      const { patient, user } = yield* therapistWithPatient
      const other = yield* therapistWithPatient
      const cases: ReadonlyArray<
        readonly [string, number, string, ReadonlyArray<readonly [string, string | FilePart]>]
      > = [
        ["extension not audio", 415, "UnsupportedMediaType", [["patientId", patient.id], ["file", {
          ...mp3(),
          name: "notes.txt"
        }]]],
        ["PNG bytes declared as octet-stream", 415, "UnsupportedMediaType", [["patientId", patient.id], ["file", {
          ...mp3(),
          type: "application/octet-stream",
          bytes: audioBytes(heads.png, 4 * KiB)
        }]]],
        ["declared type not audio", 415, "UnsupportedMediaType", [["patientId", patient.id], ["file", {
          ...mp3(),
          type: "text/plain"
        }]]],
        ["PNG bytes named .mp3", 415, "UnsupportedMediaType", [["patientId", patient.id], ["file", {
          ...mp3(),
          bytes: audioBytes(heads.png, 4 * KiB)
        }]]],
        ["mp3 bytes named .wav", 415, "UnsupportedMediaType", [["patientId", patient.id], ["file", {
          ...wav,
          bytes: audioBytes(heads.mp3Id3, 4 * KiB)
        }]]],
        ["smaller than 1 KiB", 400, "FileTooSmall", [["patientId", patient.id], ["file", mp3("tiny.mp3", 1000)]]],
        ["larger than the maximum", 413, "PayloadTooLarge", [["patientId", patient.id], [
          "file",
          mp3("big.mp3", 64 * KiB + 1)
        ]]],
        ["no file", 400, "MissingField", [["patientId", patient.id]]],
        ["no patientId", 400, "MissingField", [["file", mp3()]]],
        ["malformed patientId", 400, "InvalidField", [["patientId", "1 OR 1=1"], ["file", mp3()]]],
        ["unknown patient", 404, "NotFound", [["patientId", crypto.randomUUID()], ["file", mp3()]]],
        ["another therapist's patient", 404, "NotFound", [["patientId", other.patient.id], ["file", mp3()]]],
        ["another therapist's patient, file first", 404, "NotFound", [["file", mp3()], [
          "patientId",
          other.patient.id
        ]]],
        ["a NUL in the filename", 400, "MalformedUpload", [["patientId", patient.id], ["file", mp3("a\u0000b.mp3")]]],
        ["two files", 400, "InvalidField", [["patientId", patient.id], ["file", mp3()], ["file", mp3()]]]
      ]
      for (const [label, status, tag, parts] of cases) {
        const res = yield* upload(user.id, parts)
        assert.strictEqual(res.status, status, `${label}: ${JSON.stringify(res.body)}`)
        assert.strictEqual(res.body._tag, tag, label)
        assert.isString(res.body.message, label)
      }
      assert.deepStrictEqual(yield* storedFiles, [])
      assert.deepStrictEqual((yield* get(user.id, "/recordings")).body.items, [])
      // Every attempt counts against the upload limit (100 here), refused ones too.
      const ok = yield* upload(user.id, [["patientId", patient.id], ["file", mp3()]])
      assert.strictEqual(ok.status, 201)
    }).pipe(
      withServer({ CLINIC_RECORDINGS_MAX_UPLOAD_BYTES: String(64 * KiB), CLINIC_RECORDINGS_UPLOAD_RATE_LIMIT: "100" })
    ))

  it.effect("GET /recordings/:id: malformed id 400, unknown 404, another therapist's 404", () =>
    Effect.gen(function*() {
      const { patient, user } = yield* therapistWithPatient
      const bob = yield* makeTherapist("Bob")
      const created = (yield* upload(user.id, [["patientId", patient.id], ["file", mp3()]])).body
      const mine = yield* get(user.id, `/recordings/${created.id}`)
      assert.strictEqual(mine.status, 200)
      assert.strictEqual(mine.body.id, created.id)
      assert.strictEqual((yield* get(user.id, "/recordings/not-a-uuid")).status, 400)
      assert.strictEqual((yield* get(user.id, "/recordings/..%2F..%2Fetc%2Fpasswd")).status, 400)
      assert.strictEqual((yield* get(user.id, `/recordings/${crypto.randomUUID()}`)).status, 404)
      const theirs = yield* get(bob.id, `/recordings/${created.id}`)
      assert.strictEqual(theirs.status, 404)
      assert.strictEqual(theirs.body._tag, "NotFound")
    }).pipe(withServer()))

  it.effect("GET /recordings: filters combine, limit 1..100, cursor pages, invalid values 400", () =>
    Effect.gen(function*() {
      yield* startClock
      const { client, patient, user } = yield* therapistWithPatient
      const second = yield* client.patients.create({ payload: { name: "Second" } })
      const ids: Array<string> = []
      for (let i = 0; i < 5; i++) {
        const target = i < 3 ? patient.id : second.id
        ids.push((yield* upload(user.id, [["patientId", target], ["file", mp3()]])).body.id)
        yield* TestClock.adjust("1 minute")
      }
      yield* putJson(user.id, `/recordings/${ids[0]}/transcript`, { text: "Therapist's own transcript." })

      const all = yield* get(user.id, "/recordings")
      assert.deepStrictEqual(all.body.items.map((r: { readonly id: string }) => r.id), [...ids].reverse())
      assert.isNull(all.body.nextCursor)
      const ofPatient = yield* get(user.id, `/recordings?patientId=${patient.id}`)
      assert.deepStrictEqual(ofPatient.body.items.map((r: { readonly id: string }) => r.id), ids.slice(0, 3).reverse())
      const combined = yield* get(user.id, `/recordings?patientId=${patient.id}&status=uploaded&limit=1`)
      assert.deepStrictEqual(combined.body.items.map((r: { readonly id: string }) => r.id), [ids[2]])
      const next = yield* get(
        user.id,
        `/recordings?patientId=${patient.id}&status=uploaded&limit=1&cursor=${combined.body.nextCursor}`
      )
      assert.deepStrictEqual(next.body.items.map((r: { readonly id: string }) => r.id), [ids[1]])
      assert.isNull(next.body.nextCursor)
      const transcribed = yield* get(user.id, "/recordings?status=transcribed")
      assert.deepStrictEqual(transcribed.body.items.map((r: { readonly id: string }) => r.id), [ids[0]])
      assert.strictEqual((yield* get(user.id, "/recordings?limit=100")).status, 200)
      assert.strictEqual((yield* get(user.id, "/recordings?limit=1")).body.items.length, 1)

      for (
        const query of [
          "limit=0",
          "limit=101",
          "limit=abc",
          "limit=1.5",
          "patientId=nope",
          "patientId=1%27%20OR%20%271%27%3D%271",
          "status=done",
          "status=uploaded%27%3B%20DROP%20TABLE%20recordings%3B--",
          "cursor=garbage",
          "cursor=eyJ4IjoxfQ"
        ]
      ) {
        const res = yield* get(user.id, `/recordings?${query}`)
        assert.strictEqual(res.status, 400, `${query}: ${JSON.stringify(res.body)}`)
      }
      // Another therapist sees none of these.
      const bob = yield* makeTherapist("Bob")
      assert.deepStrictEqual((yield* get(bob.id, "/recordings")).body.items, [])
      assert.deepStrictEqual((yield* get(bob.id, `/recordings?patientId=${patient.id}`)).body.items, [])
    }).pipe(withServer()))

  it.effect("notes 404 until present; extract-notes 404 unknown, 409 without transcript, 202 with one", () =>
    Effect.gen(function*() {
      const { patient, user } = yield* therapistWithPatient
      const bob = yield* makeTherapist("Bob")
      const created = (yield* upload(user.id, [["patientId", patient.id], ["file", mp3()]])).body
      const notes = yield* get(user.id, `/recordings/${created.id}/notes`)
      assert.strictEqual(notes.status, 404)
      assert.strictEqual((yield* post(user.id, `/recordings/${crypto.randomUUID()}/extract-notes`)).status, 404)
      assert.strictEqual((yield* post(bob.id, `/recordings/${created.id}/extract-notes`)).status, 404)
      const early = yield* post(user.id, `/recordings/${created.id}/extract-notes`)
      assert.strictEqual(early.status, 409)
      assert.strictEqual(early.body._tag, "TranscriptMissing")
      // A refusal before the limiter spends no slot and carries no rate-limit headers.
      assert.isUndefined(early.headers["ratelimit"])

      assert.strictEqual((yield* putJson(bob.id, `/recordings/${created.id}/transcript`, { text: "x" })).status, 404)
      assert.strictEqual((yield* putJson(user.id, `/recordings/${created.id}/transcript`, { text: "" })).status, 400)
      const supplied = yield* putJson(user.id, `/recordings/${created.id}/transcript`, {
        text: "We talked about sleep.",
        language: "en"
      })
      assert.strictEqual(supplied.status, 200)
      assert.strictEqual(supplied.body.status, "transcribed")
      // Transcribed but no note extractor configured: the reason says so.
      assert.match(supplied.body.waitingReason, /No note extraction provider|not configured|No .*provider/i)

      const accepted = yield* post(user.id, `/recordings/${created.id}/extract-notes`)
      assert.strictEqual(accepted.status, 202, JSON.stringify(accepted.body))
      assert.strictEqual(accepted.headers["ratelimit-policy"], "20;w=3600")
      assert.match(accepted.headers["ratelimit"], /^limit=20, remaining=19, reset=\d+$/)
      const tasks = yield* Effect.flatMap(TaskStore, (s) => s.list({ name: "recording.extract-notes", limit: 10 }))
      assert.strictEqual(tasks.length, 1)
      assert.strictEqual((yield* get(user.id, `/recordings/${created.id}/notes`)).status, 404)
      // The repository's own view agrees with the API's.
      const row = yield* Effect.flatMap(RecordingRepo, (r) => r.findById(created.id))
      assert.strictEqual(row.status, "transcribed")
    }).pipe(withServer()))

  it.effect("uploads: 10 per rolling hour, the 11th is 429 with Retry-After and RateLimit headers (TestClock)", () =>
    Effect.gen(function*() {
      yield* startClock
      const { patient, user } = yield* therapistWithPatient
      const send = () => upload(user.id, [["patientId", patient.id], ["file", mp3()]])
      // Ten uploads spread over 45 minutes: the window rolls, it does not reset on the hour.
      for (let i = 0; i < 10; i++) {
        const res = yield* send()
        assert.strictEqual(res.status, 201)
        assert.strictEqual(res.headers["ratelimit-policy"], "10;w=3600")
        assert.match(res.headers["ratelimit"], new RegExp(`^limit=10, remaining=${9 - i}, reset=\\d+$`))
        yield* TestClock.adjust("5 minutes")
      }
      // Now T0+50min. The first upload (T0) leaves the window at T0+60min: 10 minutes to wait.
      const refused = yield* send()
      assert.strictEqual(refused.status, 429)
      assert.strictEqual(refused.body._tag, "RateLimited")
      assert.strictEqual(refused.headers["retry-after"], "600")
      assert.strictEqual(refused.headers["ratelimit"], "limit=10, remaining=0, reset=600")
      assert.strictEqual(refused.headers["ratelimit-policy"], "10;w=3600")
      assert.deepStrictEqual((yield* storedFiles).length, 10)

      yield* TestClock.adjust("9 minutes")
      assert.strictEqual((yield* send()).status, 429)
      yield* TestClock.adjust("61 seconds")
      const again = yield* send()
      assert.strictEqual(again.status, 201)
      assert.match(again.headers["ratelimit"], /^limit=10, remaining=0, reset=\d+$/)
      // Only one slot freed: the next is refused until the second upload (T0+5min) leaves.
      const next = yield* send()
      assert.strictEqual(next.status, 429)
      assert.strictEqual(next.headers["retry-after"], "299")

      // Limits are per user.
      const other = yield* therapistWithPatient
      assert.strictEqual(
        (yield* upload(other.user.id, [["patientId", other.patient.id], ["file", mp3()]])).status,
        201
      )
    }).pipe(withServer()))

  it.effect("extract-notes: 20 per rolling hour, then 429 with headers", () =>
    Effect.gen(function*() {
      yield* startClock
      const { patient, user } = yield* therapistWithPatient
      const created = (yield* upload(user.id, [["patientId", patient.id], ["file", mp3()]])).body
      yield* putJson(user.id, `/recordings/${created.id}/transcript`, { text: "A transcript." })
      for (let i = 0; i < 20; i++) {
        const res = yield* post(user.id, `/recordings/${created.id}/extract-notes`)
        assert.strictEqual(res.status, 202, `request ${i + 1}: ${JSON.stringify(res.body)}`)
        yield* TestClock.adjust("1 minute")
      }
      const refused = yield* post(user.id, `/recordings/${created.id}/extract-notes`)
      assert.strictEqual(refused.status, 429)
      assert.strictEqual(refused.headers["ratelimit-policy"], "20;w=3600")
      assert.strictEqual(refused.headers["retry-after"], String(40 * 60))
      yield* TestClock.adjust("40 minutes")
      assert.strictEqual((yield* post(user.id, `/recordings/${created.id}/extract-notes`)).status, 202)
    }).pipe(withServer()))
})

const notesOfSession = {
  summary: "Talked about sleep.",
  topics: ["sleep"],
  mood: "calm",
  risks: [],
  followUpActions: ["sleep diary"]
}

/** Upload, transcript and notes, then `DELETE /recordings/:id`: row, file and notes are gone. */
const deleteRecording = Effect.gen(function*() {
  yield* startClock
  const { patient, user } = yield* therapistWithPatient
  const bob = yield* makeTherapist("Bob")
  const created = (yield* upload(user.id, [["patientId", patient.id], ["file", mp3()]])).body
  const kept = (yield* upload(user.id, [["patientId", patient.id], ["file", wav]])).body
  assert.strictEqual((yield* putJson(user.id, `/recordings/${created.id}/transcript`, { text: "Words." })).status, 200)
  const repo = yield* RecordingRepo
  yield* repo.saveNotes({
    recordingId: created.id,
    notes: Schema.decodeUnknownSync(ClinicalNotes)(notesOfSession),
    model: "notes-test"
  })
  assert.strictEqual((yield* get(user.id, `/recordings/${created.id}/notes`)).status, 200)
  assert.deepStrictEqual(yield* storedFiles, [created.storedPath, kept.storedPath].sort())

  const theirs = yield* del(bob.id, `/recordings/${created.id}`)
  assert.deepStrictEqual([theirs.status, theirs.body._tag], [404, "NotFound"])
  assert.strictEqual((yield* del(user.id, `/recordings/not-a-uuid`)).status, 400)

  const removed = yield* del(user.id, `/recordings/${created.id}`)
  assert.deepStrictEqual([removed.status, removed.body], [204, null])
  assert.strictEqual((yield* get(user.id, `/recordings/${created.id}`)).status, 404)
  assert.strictEqual((yield* get(user.id, `/recordings/${created.id}/notes`)).status, 404)
  assert.isTrue(Option.isNone(yield* repo.findNotes(created.id)))
  assert.isTrue(Option.isNone(yield* repo.findTranscript(created.id)))
  assert.deepStrictEqual(yield* storedFiles, [kept.storedPath])
  assert.deepStrictEqual((yield* get(user.id, "/recordings")).body.items.map((r: { id: string }) => r.id), [kept.id])
  assert.strictEqual((yield* del(user.id, `/recordings/${created.id}`)).status, 404)
})

describe("DELETE /recordings/:id", () => {
  it.effect("memory: removes the row, its file, transcript and notes; another therapist's is a 404", () =>
    deleteRecording.pipe(withServer()))

  it.effect("postgres: removes the row, its file, transcript and notes; another therapist's is a 404", () =>
    deleteRecording.pipe(Effect.provide(Layer.merge(postgresServer(), NodeFileSystem.layer))))
})
