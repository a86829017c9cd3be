import type { PatientId, RecordingCursorPosition, User } from "@clinic/domain"
import { ClinicalNotes, Email, RecordingId, Sha256Hex } from "@clinic/domain"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, type Layer, Option, Schema, TestClock } from "effect"
import { PatientRepo } from "../src/PatientRepo.js"
import type { NewRecording } from "../src/RecordingRepo.js"
import { RecordingRepo } from "../src/RecordingRepo.js"
import { UserRepo } from "../src/UserRepo.js"
import { at, startClock } from "./fixtures.js"

export type RecordingRepoLayer = Layer.Layer<RecordingRepo | UserRepo | PatientRepo>

const therapist = (name: string) =>
  Effect.flatMap(UserRepo, (users) =>
    users.insert({
      email: Email.make(`${name.toLowerCase()}.${crypto.randomUUID().slice(0, 8)}@clinic.test`),
      name,
      role: "therapist",
      passwordHash: "scrypt$not-a-real-hash"
    })).pipe(Effect.orDie)

const patient = (owner: User, name = "Pat") =>
  Effect.flatMap(
    PatientRepo,
    (repo) => repo.insert({ therapistId: owner.id, name, email: null, phone: null, notes: null })
  )

const newRecording = (owner: User, patientId: PatientId, originalFilename = "session.mp3"): NewRecording => {
  const id = RecordingId.make(crypto.randomUUID())
  return {
    id,
    therapistId: owner.id,
    patientId,
    originalFilename,
    storedPath: `${id}.mp3`,
    format: "mp3",
    mimeType: "audio/mpeg",
    sizeBytes: 4096,
    sha256: Sha256Hex.make("ab".repeat(32))
  }
}

const setup = Effect.gen(function*() {
  yield* startClock
  const alice = yield* therapist("Alice")
  const bob = yield* therapist("Bob")
  const pat = yield* patient(alice, "Pat")
  const sam = yield* patient(alice, "Sam")
  return { alice, bob, pat, sam, repo: yield* RecordingRepo }
})

const notes = Schema.decodeUnknownSync(ClinicalNotes)({
  summary: "Talked about sleep.",
  topics: ["sleep"],
  mood: "calm",
  risks: [{ description: "none", severity: "low" }],
  followUpActions: ["diary"]
})

export const recordingRepoContract = (name: string, layer: RecordingRepoLayer) =>
  describe(`RecordingRepo (${name})`, () => {
    it.effect("inserts in uploaded; only the owner finds it; filenames are inert data", () =>
      Effect.gen(function*() {
        const { alice, bob, pat, repo } = yield* setup
        const hostile = "'; DROP TABLE recordings; -- ../../etc/passwd \" <b>.mp3"
        const created = yield* repo.insert(newRecording(alice, pat.id, hostile))
        assert.strictEqual(created.status, "uploaded")
        assert.strictEqual(created.attempts, 0)
        assert.isNull(created.error)
        assert.strictEqual(created.createdAt.epochMillis, at(0).epochMillis)
        const found = yield* repo.findOwned(alice.id, created.id)
        assert.strictEqual(found.originalFilename, hostile)
        assert.strictEqual(found.sizeBytes, 4096)
        assert.strictEqual((yield* repo.findById(created.id)).id, created.id)
        assert.strictEqual((yield* Effect.flip(repo.findOwned(bob.id, created.id)))._tag, "NotFound")
        assert.strictEqual(
          (yield* Effect.flip(repo.findById(RecordingId.make(crypto.randomUUID()))))._tag,
          "NotFound"
        )
        // The table is still there.
        assert.strictEqual((yield* repo.list(alice.id, { limit: 10 })).length, 1)
      }).pipe(Effect.provide(layer)))

    it.effect("lists newest first with combined filters and keyset pages", () =>
      Effect.gen(function*() {
        const { alice, bob, pat, repo, sam } = yield* setup
        const ids: Array<RecordingId> = []
        for (let i = 0; i < 5; i++) {
          ids.push((yield* repo.insert(newRecording(alice, i % 2 === 0 ? pat.id : sam.id))).id)
          yield* TestClock.adjust("1 minute")
        }
        // Two at the same instant: the id breaks the tie.
        ids.push((yield* repo.insert(newRecording(alice, pat.id))).id)
        ids.push((yield* repo.insert(newRecording(alice, pat.id))).id)
        yield* repo.insert(newRecording(bob, (yield* patient(bob)).id))
        yield* repo.transition(ids[0], { to: "transcribing" })

        const all = yield* repo.list(alice.id, { limit: 100 })
        assert.strictEqual(all.length, 7)
        const order = all.map((r) => r.id)
        const tie = [ids[5], ids[6]].sort().reverse()
        assert.deepStrictEqual(order, [...tie, ids[4], ids[3], ids[2], ids[1], ids[0]])

        const pages: Array<ReadonlyArray<RecordingId>> = []
        let after: RecordingCursorPosition | undefined
        do {
          const page = yield* repo.list(alice.id, { limit: 2, after })
          pages.push(page.map((r) => r.id))
          const last = page[page.length - 1]
          after = page.length === 2 ? { createdAt: last.createdAt, id: last.id } as RecordingCursorPosition : undefined
        } while (after !== undefined)
        assert.deepStrictEqual(pages.flat(), order)
        assert.deepStrictEqual(pages.map((p) => p.length), [2, 2, 2, 1])

        const patOnly = yield* repo.list(alice.id, { limit: 100, patientId: pat.id })
        assert.deepStrictEqual(patOnly.map((r) => r.id), [...tie, ids[4], ids[2], ids[0]])
        const combined = yield* repo.list(alice.id, { limit: 100, patientId: pat.id, status: "uploaded" })
        assert.deepStrictEqual(combined.map((r) => r.id), [...tie, ids[4], ids[2]])
        const transcribing = yield* repo.list(alice.id, { limit: 1, status: "transcribing" })
        assert.deepStrictEqual(transcribing.map((r) => r.id), [ids[0]])
        assert.strictEqual(
          (yield* repo.list(alice.id, { limit: 100, patientId: (yield* patient(bob)).id })).length,
          0
        )
      }).pipe(Effect.provide(layer)))

    it.effect("listByStatus: every therapist's recordings in one status, oldest first, bounded", () =>
      Effect.gen(function*() {
        const { alice, bob, pat, repo } = yield* setup
        const first = yield* repo.insert(newRecording(alice, pat.id))
        yield* TestClock.adjust("1 minute")
        const second = yield* repo.insert(newRecording(bob, (yield* patient(bob)).id))
        yield* TestClock.adjust("1 minute")
        const third = yield* repo.insert(newRecording(alice, pat.id))
        yield* repo.transition(third.id, { to: "transcribing" })
        assert.deepStrictEqual((yield* repo.listByStatus("uploaded", 10)).map((r) => r.id), [first.id, second.id])
        assert.deepStrictEqual((yield* repo.listByStatus("uploaded", 1)).map((r) => r.id), [first.id])
        assert.deepStrictEqual((yield* repo.listByStatus("transcribing", 10)).map((r) => r.id), [third.id])
        assert.deepStrictEqual(yield* repo.listByStatus("completed", 10), [])
      }).pipe(Effect.provide(layer)))

    it.effect("transitions follow the domain rules: attempts, errors, refusals", () =>
      Effect.gen(function*() {
        const { alice, pat, repo } = yield* setup
        const { id } = yield* repo.insert(newRecording(alice, pat.id))
        yield* TestClock.adjust("1 minute")
        const claimed = yield* repo.transition(id, { to: "transcribing", from: ["uploaded"] })
        assert.deepStrictEqual([claimed.status, claimed.attempts], ["transcribing", 1])
        assert.strictEqual(claimed.updatedAt.epochMillis, at("1 minute").epochMillis)
        const again = yield* Effect.flip(repo.transition(id, { to: "transcribing", from: ["uploaded"] }))
        assert.deepInclude(again, { _tag: "InvalidTransition", from: "transcribing" })

        const failed = yield* repo.transition(id, { to: "failed", error: "provider said 400" })
        assert.deepStrictEqual([failed.status, failed.error, failed.attempts], ["failed", "provider said 400", 1])
        const retried = yield* repo.transition(id, { to: "transcribing" })
        assert.deepStrictEqual([retried.error, retried.attempts], [null, 2])
        for (const to of ["transcribed", "extracting", "completed"] as const) yield* repo.transition(id, { to })
        const done = yield* repo.findById(id)
        assert.deepStrictEqual([done.status, done.attempts], ["completed", 3])

        const skip = yield* Effect.flip(repo.transition(id, { to: "uploaded" }))
        assert.strictEqual(skip._tag, "InvalidTransition")
        const unknown = yield* Effect.flip(repo.transition(RecordingId.make(crypto.randomUUID()), { to: "failed" }))
        assert.strictEqual(unknown._tag, "NotFound")
      }).pipe(Effect.provide(layer)))

    it.effect("concurrent claims of one recording: exactly one wins", () =>
      Effect.gen(function*() {
        const { alice, pat, repo } = yield* setup
        const { id } = yield* repo.insert(newRecording(alice, pat.id))
        const results = yield* Effect.forEach(
          Array.from({ length: 10 }),
          () => Effect.either(repo.transition(id, { to: "transcribing", from: ["uploaded", "failed"] })),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(results.filter(Either.isRight).length, 1)
        assert.strictEqual((yield* repo.findById(id)).attempts, 1)
      }).pipe(Effect.provide(layer)))

    it.effect("transcripts and notes: absent, saved, replaced, deleted with the recording", () =>
      Effect.gen(function*() {
        const { alice, bob, pat, repo } = yield* setup
        const { id } = yield* repo.insert(newRecording(alice, pat.id))
        assert.isTrue(Option.isNone(yield* repo.findTranscript(id)))
        assert.isTrue(Option.isNone(yield* repo.findNotes(id)))
        yield* repo.saveTranscript({ recordingId: id, text: "first", language: null, source: "provider" })
        yield* TestClock.adjust("1 minute")
        yield* repo.saveTranscript({ recordingId: id, text: "typed by therapist", language: "en", source: "therapist" })
        const transcript = Option.getOrThrow(yield* repo.findTranscript(id))
        assert.deepStrictEqual([transcript.text, transcript.language, transcript.source], [
          "typed by therapist",
          "en",
          "therapist"
        ])
        assert.strictEqual(transcript.createdAt.epochMillis, at("1 minute").epochMillis)

        yield* repo.saveNotes({ recordingId: id, notes, model: "m1" })
        const saved = Option.getOrThrow(yield* repo.findNotes(id))
        assert.deepStrictEqual(saved.notes, notes)
        assert.strictEqual(saved.model, "m1")

        assert.strictEqual((yield* Effect.flip(repo.delete(bob.id, id)))._tag, "NotFound")
        const deleted = yield* repo.delete(alice.id, id)
        assert.strictEqual(deleted.storedPath, `${id}.mp3`)
        assert.strictEqual((yield* Effect.flip(repo.findById(id)))._tag, "NotFound")
        assert.isTrue(Option.isNone(yield* repo.findTranscript(id)))
        assert.isTrue(Option.isNone(yield* repo.findNotes(id)))
      }).pipe(Effect.provide(layer)))
  })
