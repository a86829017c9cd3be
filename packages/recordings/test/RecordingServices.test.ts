import type { User } from "@clinic/domain"
import { ClinicalNotes, Email, ListRecordingsParams, Pagination, RecordingId } from "@clinic/domain"
import { OutboxStore } from "@clinic/events"
import { TaskStore } from "@clinic/queue"
import { PatientRepo } from "@clinic/repository/PatientRepo"
import { RecordingRepo } from "@clinic/repository/RecordingRepo"
import * as Repositories from "@clinic/repository/Repositories"
import * as TestDatabase from "@clinic/repository/testing/TestDatabase"
import { UserRepo } from "@clinic/repository/UserRepo"
import { FileStores } from "@clinic/storage"
import { FileSystem, Multipart } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import type { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Effect, Fiber, Layer, Option, Redacted, Ref, Schema, Stream } from "effect"
import * as NoteExtractor from "../src/NoteExtractor.js"
import { RecordingPipeline } from "../src/Pipeline.js"
import { ProviderRejected, ProviderUnavailable } from "../src/ProviderErrors.js"
import { RateLimiter } from "../src/RateLimiter.js"
import { RecordingQueries } from "../src/RecordingQueries.js"
import { RecordingsConfig } from "../src/RecordingsConfig.js"
import { RecordingSteps } from "../src/RecordingSteps.js"
import { RecordingStore } from "../src/RecordingStore.js"
import { RecordingUploads } from "../src/RecordingUploads.js"
import * as Transcriber from "../src/Transcriber.js"
import { audioBytes, chunked, heads } from "./audio.js"
import { startClock } from "./fixtures.js"

type Reply<A> = Effect.Effect<A, ProviderUnavailable | ProviderRejected>

/** A provider that answers from a script (the last reply repeats) and counts its calls. */
const scripted = <A>(replies: ReadonlyArray<Reply<A>>) =>
  Effect.gen(function*() {
    const calls = yield* Ref.make(0)
    const called = yield* Deferred.make<void>()
    const next = Effect.flatMap(
      Ref.getAndUpdate(calls, (n) => n + 1),
      (n) => Effect.zipRight(Deferred.succeed(called, undefined), replies[Math.min(n, replies.length - 1)])
    )
    return { next, calls: Ref.get(calls), called: Deferred.await(called) }
  })

const notes = Schema.decodeUnknownSync(ClinicalNotes)({
  summary: "Sleep and work stress.",
  topics: ["sleep"],
  mood: "tired",
  risks: [],
  followUpActions: ["sleep diary"]
})

type Db = Layer.Layer.Success<typeof Repositories.layerPg> | SqlClient.SqlClient | TaskStore | OutboxStore

const setup = (
  db: Layer.Layer<Db>,
  options: {
    readonly transcripts?: ReadonlyArray<Reply<Transcriber.Transcription>>
    readonly notes?: ReadonlyArray<Reply<NoteExtractor.ExtractedNotes>>
    readonly configured?: boolean
    readonly deleteAudioAfterNotes?: boolean
  } = {}
) =>
  Effect.gen(function*() {
    yield* startClock
    const fs = yield* FileSystem.FileSystem
    const storageDir = yield* fs.makeTempDirectoryScoped({ prefix: "recording-service-test-" })
    const transcriber = yield* scripted(
      options.transcripts ?? [Effect.succeed({ text: "Hello.", language: "en", model: "whisper-test" })]
    )
    const extractor = yield* scripted(options.notes ?? [Effect.succeed({ notes, model: "notes-test" })])
    const received = yield* Ref.make(0)
    const configured = options.configured ?? true
    const providers = Layer.merge(
      Layer.succeed(
        Transcriber.Transcriber,
        configured
          ? {
            status: { _tag: "Configured", baseUrl: "fake", model: "whisper-test" },
            transcribe: (input) =>
              Stream.runForEach(input.content, (chunk) => Ref.update(received, (n) => n + chunk.length)).pipe(
                Effect.orDie,
                Effect.zipRight(transcriber.next)
              )
          }
          : Transcriber.notConfigured("no provider in this test")
      ),
      Layer.succeed(
        NoteExtractor.NoteExtractor,
        configured
          ? { status: { _tag: "Configured", baseUrl: "fake", model: "notes-test" }, extract: () => extractor.next }
          : NoteExtractor.notConfigured("no provider in this test")
      )
    )
    const config = RecordingsConfig.layerTest({
      storageDir,
      maxUploadBytes: 100_000,
      deleteAudioAfterNotes: options.deleteAudioAfterNotes ?? false
    })
    // The database and store outlive service instances: a "restart" builds a new service on them.
    const shared = yield* Layer.build(
      Layer.mergeAll(
        RecordingStore.layer,
        RateLimiter.DefaultWithoutDependencies
      ).pipe(
        Layer.provideMerge(db),
        Layer.provideMerge(config),
        Layer.provideMerge(FileStores.FileStores.layerLocal),
        Layer.provideMerge(NodeFileSystem.layer)
      )
    )
    // The services of one process, seen as one object: what an instance of the API runs.
    const newService = Layer.build(
      Layer.mergeAll(
        RecordingUploads.DefaultWithoutDependencies,
        RecordingSteps.DefaultWithoutDependencies,
        RecordingQueries.DefaultWithoutDependencies,
        RecordingPipeline.DefaultWithoutDependencies
      ).pipe(Layer.provide(providers))
    ).pipe(
      Effect.provide(shared),
      Effect.map((context) => {
        const uploads = Context.get(context, RecordingUploads)
        const steps = Context.get(context, RecordingSteps)
        const queries = Context.get(context, RecordingQueries)
        return {
          ...uploads,
          ...Context.get(context, RecordingQueries),
          ...Context.get(context, RecordingPipeline),
          ...steps,
          transcribe: (id: RecordingId) => steps.transcribe(id, () => Effect.void),
          list: (...args: Parameters<typeof queries.list>) => queries.list(...args).pipe(Effect.provide(pagination))
        }
      })
    )
    const therapist = (name: string) =>
      Effect.flatMap(UserRepo, (users) =>
        users.insert({
          email: Email.make(`${name.toLowerCase()}.${crypto.randomUUID().slice(0, 8)}@clinic.test`),
          name,
          role: "therapist",
          passwordHash: "x"
        })).pipe(Effect.orDie, Effect.provide(shared))
    const patientOf = (owner: User) =>
      Effect.flatMap(
        PatientRepo,
        (repo) => repo.insert({ therapistId: owner.id, name: "Pat", email: null, phone: null, notes: null })
      ).pipe(
        Effect.provide(shared)
      )
    const files = fs.readDirectory(storageDir)
    const repo = Effect.provide(RecordingRepo, shared)
    return { newService, therapist, patientOf, files, transcriber, extractor, received: Ref.get(received), repo }
  }).pipe(Effect.provide(NodeFileSystem.layer))

const encoder = new TextEncoder()
const mp3 = audioBytes(heads.mp3Id3, 20_000)
const form = (patientId: string, data: Uint8Array = mp3, filename = "session.mp3") => {
  const boundary = "b0undary"
  const body = Buffer.concat([
    encoder.encode(`--${boundary}\r\nContent-Disposition: form-data; name="patientId"\r\n\r\n${patientId}\r\n`),
    encoder.encode(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\n` +
        `Content-Type: audio/mpeg\r\n\r\n`
    ),
    data,
    encoder.encode(`\r\n--${boundary}--\r\n`)
  ])
  return Stream.fromIterable(chunked(new Uint8Array(body), 4096)).pipe(
    Stream.pipeThroughChannel(Multipart.makeChannel({ "content-type": `multipart/form-data; boundary=${boundary}` }))
  )
}

const pagination = Pagination.layer(Redacted.make("recordings services test"))

const listParams = (params: Record<string, string>) => Schema.decodeUnknownSync(ListRecordingsParams)(params)

const suite = (name: string, db: Layer.Layer<Db>) =>
  describe(`recordings services (${name})`, () => {
    it.scoped("upload: 201 in uploaded with the file on disk; another therapist's patient 404; 11th upload 429", () =>
      Effect.gen(function*() {
        const t = yield* setup(db)
        const service = yield* t.newService
        const alice = yield* t.therapist("Alice")
        const bob = yield* t.therapist("Bob")
        const pat = yield* t.patientOf(alice)
        const { rateLimit, recording } = yield* service.upload(alice.id, form(pat.id, mp3, "../../secret.mp3"))
        assert.deepStrictEqual([recording.status, recording.originalFilename, recording.sizeBytes], [
          "uploaded",
          "secret.mp3",
          mp3.length
        ])
        assert.strictEqual(rateLimit.remaining, 9)
        assert.deepStrictEqual(yield* t.files, [recording.storedPath])
        assert.strictEqual((yield* service.get(alice.id, recording.id)).id, recording.id)
        assert.strictEqual((yield* Effect.flip(service.get(bob.id, recording.id)))._tag, "NotFound")

        const stolen = yield* Effect.flip(service.upload(bob.id, form(pat.id)))
        assert.strictEqual(stolen._tag, "NotFound")
        assert.strictEqual((yield* t.files).length, 1)

        for (let i = 0; i < 9; i++) yield* service.upload(alice.id, form(pat.id))
        const limited = yield* Effect.flip(service.upload(alice.id, form(pat.id)))
        assert.strictEqual(limited._tag, "RateLimited")
        assert.strictEqual((yield* t.files).length, 10)

        const page = yield* service.list(alice.id, listParams({ limit: "4", patientId: pat.id, status: "uploaded" }))
        assert.strictEqual(page.items.length, 4)
        const next = yield* service.list(alice.id, listParams({ limit: "100", cursor: page.nextCursor! }))
        assert.strictEqual(next.items.length, 6)
        assert.isNull(next.nextCursor)
        assert.strictEqual((yield* service.list(bob.id, listParams({}))).items.length, 0)
      }))

    it.scoped("the pipeline runs to completed once; a repeated step never calls the provider again", () =>
      Effect.gen(function*() {
        const t = yield* setup(db)
        const service = yield* t.newService
        const alice = yield* t.therapist("Alice")
        const { recording } = yield* service.upload(alice.id, form((yield* t.patientOf(alice)).id))
        assert.strictEqual((yield* Effect.flip(service.notes(alice.id, recording.id)))._tag, "NotFound")

        const transcribed = yield* service.transcribe(recording.id)
        assert.strictEqual(transcribed._tag, "Done")
        assert.strictEqual(yield* t.received, mp3.length)
        assert.strictEqual((yield* service.transcribe(recording.id))._tag, "Skipped")
        assert.strictEqual(yield* t.transcriber.calls, 1)

        const extracted = yield* service.extract(recording.id)
        assert.strictEqual(extracted._tag, "Done")
        // Audio is kept by default.
        assert.deepStrictEqual(yield* t.files, [recording.storedPath])
        const done = yield* service.get(alice.id, recording.id)
        assert.deepStrictEqual([done.status, done.attempts, done.error], ["completed", 2, null])
        const saved = yield* service.notes(alice.id, recording.id)
        assert.deepStrictEqual(saved.notes, notes)
        assert.strictEqual((yield* service.transcribe(recording.id))._tag, "Skipped")
        assert.strictEqual(yield* t.transcriber.calls, 1)
        assert.strictEqual(yield* t.extractor.calls, 1)
      }))

    it.scoped("a provider that fails then succeeds: the retryable error surfaces, the retry completes", () =>
      Effect.gen(function*() {
        const unavailable = new ProviderUnavailable({
          provider: "transcriber",
          reason: "server-error",
          status: 503,
          retryAfter: null,
          message: "overloaded"
        })
        const t = yield* setup(db, {
          transcripts: [Effect.fail(unavailable), Effect.succeed({ text: "ok", language: null, model: "m" })]
        })
        const service = yield* t.newService
        const alice = yield* t.therapist("Alice")
        const { recording } = yield* service.upload(alice.id, form((yield* t.patientOf(alice)).id))
        const error = yield* Effect.flip(service.transcribe(recording.id))
        assert.strictEqual(error._tag, "ProviderUnavailable")
        assert.deepStrictEqual(
          [(yield* service.get(alice.id, recording.id)).status, (yield* service.get(alice.id, recording.id)).attempts],
          ["transcribing", 1]
        )
        assert.strictEqual((yield* service.transcribe(recording.id))._tag, "Done")
        const after = yield* service.get(alice.id, recording.id)
        assert.deepStrictEqual([after.status, after.attempts], ["transcribed", 2])
      }))

    it.scoped("a permanent refusal fails the recording with the provider's message", () =>
      Effect.gen(function*() {
        const t = yield* setup(db, {
          transcripts: [
            Effect.fail(
              new ProviderRejected({
                provider: "transcriber",
                reason: "client-error",
                status: 400,
                message: "bad audio"
              })
            )
          ]
        })
        const service = yield* t.newService
        const alice = yield* t.therapist("Alice")
        const { recording } = yield* service.upload(alice.id, form((yield* t.patientOf(alice)).id))
        const outcome = yield* service.transcribe(recording.id)
        assert.strictEqual(outcome._tag, "Failed")
        const failed = yield* service.get(alice.id, recording.id)
        assert.deepStrictEqual([failed.status, failed.error], ["failed", "bad audio"])
      }))

    it.scoped("without a provider uploads wait in uploaded, spending no attempt", () =>
      Effect.gen(function*() {
        const t = yield* setup(db, { configured: false })
        const service = yield* t.newService
        const alice = yield* t.therapist("Alice")
        const { recording } = yield* service.upload(alice.id, form((yield* t.patientOf(alice)).id))
        const outcome = yield* service.transcribe(recording.id)
        assert.deepStrictEqual(outcome, { _tag: "Waiting", reason: "no provider in this test" })
        const waiting = yield* service.get(alice.id, recording.id)
        assert.deepStrictEqual([waiting.status, waiting.attempts], ["uploaded", 0])
      }))

    it.scoped("a restart mid-transcription: the new instance re-claims and finishes; a saved transcript is reused", () =>
      Effect.gen(function*() {
        const t = yield* setup(db, {
          transcripts: [Effect.never, Effect.succeed({ text: "after restart", language: null, model: "m" })]
        })
        const before = yield* t.newService
        const alice = yield* t.therapist("Alice")
        const patient = yield* t.patientOf(alice)
        const { recording } = yield* before.upload(alice.id, form(patient.id))
        const running = yield* Effect.fork(before.transcribe(recording.id))
        yield* t.transcriber.called
        yield* Fiber.interrupt(running)
        assert.strictEqual((yield* before.get(alice.id, recording.id)).status, "transcribing")

        const after = yield* t.newService
        assert.strictEqual((yield* after.transcribe(recording.id))._tag, "Done")
        const resumed = yield* after.get(alice.id, recording.id)
        assert.deepStrictEqual([resumed.status, resumed.attempts], ["transcribed", 2])
        assert.strictEqual(yield* t.transcriber.calls, 2)

        // The provider answered and the transcript was saved, but the step's end was lost.
        const second = (yield* after.upload(alice.id, form(patient.id))).recording
        const repo = yield* t.repo
        yield* repo.transition(second.id, { to: "transcribing" })
        yield* repo.saveTranscript({ recordingId: second.id, text: "saved", language: null, source: "provider" })
        assert.strictEqual((yield* after.transcribe(second.id))._tag, "Done")
        assert.strictEqual(yield* t.transcriber.calls, 2)
      }))

    it.scoped("extract-notes: 409 without a transcript; a therapist's transcript enables it; 404 for others", () =>
      Effect.gen(function*() {
        const t = yield* setup(db, { configured: false })
        const service = yield* t.newService
        const alice = yield* t.therapist("Alice")
        const bob = yield* t.therapist("Bob")
        const { recording } = yield* service.upload(alice.id, form((yield* t.patientOf(alice)).id))
        assert.strictEqual((yield* Effect.flip(service.requestNotes(alice.id, recording.id)))._tag, "TranscriptMissing")
        assert.strictEqual((yield* Effect.flip(service.requestNotes(bob.id, recording.id)))._tag, "NotFound")
        assert.strictEqual(
          (yield* Effect.flip(service.requestNotes(alice.id, RecordingId.make(crypto.randomUUID()))))._tag,
          "NotFound"
        )
        const supplied = yield* service.supplyTranscript(alice.id, recording.id, { text: "typed", language: "en" })
        assert.strictEqual(supplied.status, "transcribed")
        const requested = yield* service.requestNotes(alice.id, recording.id)
        assert.strictEqual(requested.rateLimit.remaining, 19)
        assert.strictEqual((yield* service.transcribe(recording.id))._tag, "Waiting")
        assert.strictEqual((yield* service.get(alice.id, recording.id)).status, "transcribed")
      }))

    it.scoped("retention: with deleteAudioAfterNotes the audio goes once notes exist, and only then", () =>
      Effect.gen(function*() {
        const t = yield* setup(db, { deleteAudioAfterNotes: true })
        const service = yield* t.newService
        const alice = yield* t.therapist("Alice")
        const { recording } = yield* service.upload(alice.id, form((yield* t.patientOf(alice)).id))
        yield* service.transcribe(recording.id)
        assert.deepStrictEqual(yield* t.files, [recording.storedPath])
        yield* service.extract(recording.id)
        assert.deepStrictEqual(yield* t.files, [])
        assert.strictEqual((yield* service.get(alice.id, recording.id)).status, "completed")
        // Extracting again works from the transcript alone.
        assert.strictEqual((yield* service.extract(recording.id))._tag, "Done")
      }))

    it.scoped("concurrent uploads for one patient: distinct recordings and files, the limit holds", () =>
      Effect.gen(function*() {
        const t = yield* setup(db)
        const service = yield* t.newService
        const alice = yield* t.therapist("Alice")
        const patient = yield* t.patientOf(alice)
        const results = yield* Effect.forEach(
          Array.from({ length: 12 }),
          () => Effect.either(service.upload(alice.id, form(patient.id))),
          { concurrency: "unbounded" }
        )
        const accepted = results.flatMap((r) => r._tag === "Right" ? [r.right.recording] : [])
        assert.strictEqual(accepted.length, 10)
        assert.deepStrictEqual(results.flatMap((r) => r._tag === "Left" ? [r.left._tag] : []), [
          "RateLimited",
          "RateLimited"
        ])
        assert.strictEqual(new Set(accepted.map((r) => r.storedPath)).size, 10)
        assert.strictEqual((yield* t.files).length, 10)
        assert.strictEqual((yield* service.list(alice.id, listParams({ patientId: patient.id }))).items.length, 10)
      }))

    it.scoped("remove deletes the row and the audio file", () =>
      Effect.gen(function*() {
        const t = yield* setup(db)
        const service = yield* t.newService
        const alice = yield* t.therapist("Alice")
        const bob = yield* t.therapist("Bob")
        const { recording } = yield* service.upload(alice.id, form((yield* t.patientOf(alice)).id))
        assert.strictEqual((yield* Effect.flip(service.remove(bob.id, recording.id)))._tag, "NotFound")
        yield* service.remove(alice.id, recording.id)
        assert.deepStrictEqual(yield* t.files, [])
        assert.strictEqual((yield* Effect.flip(service.get(alice.id, recording.id)))._tag, "NotFound")
        assert.isTrue(Option.isNone(yield* Effect.option(service.notes(alice.id, recording.id))))
      }))
  })

suite("memory", Layer.mergeAll(Repositories.layerMemory, TaskStore.layerMemory, OutboxStore.layerMemory))
suite(
  "postgres",
  Layer.mergeAll(Repositories.layerPg, TaskStore.layerPg, OutboxStore.layerPg).pipe(
    Layer.provideMerge(TestDatabase.layer)
  )
)
