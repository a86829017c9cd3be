import { TaskQueue, TaskStore, Worker } from "@clinic/queue"
import { Pipeline } from "@clinic/recordings"
import { RecordingRepo } from "@clinic/repository"
import * as TestDatabase from "@clinic/repository/testing/TestDatabase"
import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Layer, Scope, TestClock } from "effect"
import { audioBytes, heads } from "../../../packages/recordings/test/audio.js"
import * as FakeOpenAi from "../../../packages/recordings/test/FakeOpenAi.js"
import {
  get,
  memoryServer,
  pollUntil,
  postgresServer,
  publishedTypes,
  startClock,
  therapistWithPatient,
  upload
} from "./support/TestApi.js"

const file = { name: "session.mp3", type: "audio/mpeg", bytes: audioBytes(heads.mp3Id3, 8 * 1024) }

const notes = {
  summary: "Talked about sleep and work.",
  topics: ["sleep", "work"],
  mood: "tired but hopeful",
  risks: [],
  followUpActions: ["sleep diary"]
}
const transcription = FakeOpenAi.json(200, { text: "We talked about sleep.", language: "english" })
const completion = FakeOpenAi.json(200, {
  model: "notes-test",
  choices: [{ index: 0, finish_reason: "stop", message: { role: "assistant", content: JSON.stringify(notes) } }]
})
const serverError = FakeOpenAi.json(500, { error: { message: "upstream overloaded" } })

const provider = (baseUrl: string) => ({ CLINIC_RECORDINGS_PROVIDER_BASE_URL: baseUrl })
const paths = (fake: { readonly received: Effect.Effect<ReadonlyArray<FakeOpenAi.Received>> }) =>
  Effect.map(fake.received, (all) => all.map((r) => r.url))

const drain = Effect.flatMap(Pipeline.registry, (registry) => Worker.drain(registry, Pipeline.QUEUE)).pipe(
  Effect.orDie
)

describe("recordings pipeline (memory, TestClock)", () => {
  it.scoped("a provider that fails then succeeds: retried with backoff, then transcribed and completed with notes", () =>
    Effect.gen(function*() {
      yield* startClock
      const fake = yield* FakeOpenAi.make([serverError, transcription, completion])
      yield* Effect.gen(function*() {
        const { patient, user } = yield* therapistWithPatient
        const created = (yield* upload(user.id, [["patientId", patient.id], ["file", file]])).body
        assert.isUndefined(created.waitingReason)

        const first = yield* drain
        assert.deepStrictEqual(first.map((r) => [r.name, r.outcome]), [["recording.transcribe", "retried"]])
        assert.strictEqual((yield* get(user.id, `/recordings/${created.id}`)).body.status, "transcribing")
        assert.deepStrictEqual(yield* drain, [], "nothing is due before the backoff")

        yield* TestClock.adjust("1 minute")
        const second = yield* drain
        assert.deepStrictEqual(second.map((r) => [r.name, r.outcome]), [
          ["recording.transcribe", "succeeded"],
          ["recording.extract-notes", "succeeded"]
        ])
        const done = (yield* get(user.id, `/recordings/${created.id}`)).body
        assert.strictEqual(done.status, "completed")
        assert.strictEqual(done.attempts, 3, "two transcription attempts and one extraction")
        assert.isNull(done.error)
        const got = yield* get(user.id, `/recordings/${created.id}/notes`)
        assert.strictEqual(got.status, 200)
        assert.deepStrictEqual(got.body.notes, notes)
        assert.deepStrictEqual(yield* paths(fake), [
          "/v1/audio/transcriptions",
          "/v1/audio/transcriptions",
          "/v1/chat/completions"
        ])
        assert.deepStrictEqual(yield* publishedTypes, ["recording.uploaded", "recording.completed"])
      }).pipe(Effect.provide(Layer.merge(memoryServer({ settings: provider(fake.baseUrl) }), NodeFileSystem.layer)))
    }))

  it.scoped("a provider that keeps failing: `failed` with the error and attempts after the last retry", () =>
    Effect.gen(function*() {
      yield* startClock
      const fake = yield* FakeOpenAi.make([serverError])
      yield* Effect.gen(function*() {
        const { patient, user } = yield* therapistWithPatient
        const created = (yield* upload(user.id, [["patientId", patient.id], ["file", file]])).body
        const outcomes: Array<string> = []
        for (let i = 0; i < 5; i++) {
          outcomes.push(...(yield* drain).map((r) => r.outcome))
          yield* TestClock.adjust("1 hour")
        }
        assert.deepStrictEqual(outcomes, ["retried", "retried", "retried", "retried", "succeeded"])
        const failed = (yield* get(user.id, `/recordings/${created.id}`)).body
        assert.strictEqual(failed.status, "failed")
        assert.strictEqual(failed.attempts, 5)
        assert.match(failed.error, /gave up after 5 attempts/)
        assert.deepStrictEqual(yield* publishedTypes, ["recording.uploaded", "recording.failed"])
        assert.strictEqual((yield* get(user.id, `/recordings/${created.id}/notes`)).status, 404)
      }).pipe(Effect.provide(Layer.merge(memoryServer({ settings: provider(fake.baseUrl) }), NodeFileSystem.layer)))
    }))

  it.scoped("a provider that refuses the audio for good: `failed` at once, no retry", () =>
    Effect.gen(function*() {
      yield* startClock
      const fake = yield* FakeOpenAi.make([FakeOpenAi.json(400, { error: { message: "Invalid file format." } })])
      yield* Effect.gen(function*() {
        const { patient, user } = yield* therapistWithPatient
        const created = (yield* upload(user.id, [["patientId", patient.id], ["file", file]])).body
        assert.deepStrictEqual((yield* drain).map((r) => r.outcome), ["succeeded"])
        const failed = (yield* get(user.id, `/recordings/${created.id}`)).body
        assert.strictEqual(failed.status, "failed")
        assert.strictEqual(failed.attempts, 1)
        assert.match(failed.error, /Invalid file format/)
        assert.strictEqual((yield* paths(fake)).length, 1)
      }).pipe(Effect.provide(Layer.merge(memoryServer({ settings: provider(fake.baseUrl) }), NodeFileSystem.layer)))
    }))
})

const waitForStatus = (token: string, id: string, status: string) =>
  pollUntil(
    get(token, `/recordings/${id}`),
    (res) => res.body.status === status,
    Duration.seconds(30)
  )

describe("recordings pipeline (Postgres, real worker)", () => {
  it.scopedLive(
    "a restart mid-pipeline: the upload's task survives, the step runs again and completes once",
    () =>
      Effect.gen(function*() {
        // The first transcription request never gets an answer: the worker is stopped during it.
        const fake = yield* FakeOpenAi.make([FakeOpenAi.hang, transcription, completion])
        const database = Layer.succeedContext(yield* Layer.build(TestDatabase.layer))
        yield* Effect.gen(function*() {
          const { patient, user } = yield* therapistWithPatient
          // No worker yet: the upload's transaction left the task behind it.
          const created = (yield* upload(user.id, [["patientId", patient.id], ["file", file]])).body
          const pending = yield* Effect.flatMap(TaskStore, (s) => s.list({ queue: Pipeline.QUEUE, limit: 10 }))
          assert.deepStrictEqual(pending.map((t) => [t.name, t.status]), [["recording.transcribe", "pending"]])

          const worker = () =>
            Effect.flatMap(
              Scope.make(),
              (scope) =>
                Effect.as(Layer.buildWithScope(Pipeline.workerLayer({ shutdownBudget: "50 millis" }), scope), scope)
            )
          const first = yield* worker()
          yield* fake.firstRequest
          yield* Scope.close(first, Exit.void)
          const stopped = yield* get(user.id, `/recordings/${created.id}`)
          assert.strictEqual(stopped.body.status, "transcribing")

          const second = yield* worker()
          const done = yield* waitForStatus(user.id, created.id, "completed")
          assert.strictEqual(done.body.status, "completed")
          // The status is written inside the step, the task's acknowledgement just after.
          const tasks = yield* pollUntil(
            Effect.flatMap(TaskStore, (s) => s.list({ queue: Pipeline.QUEUE, limit: 10 })),
            (all) => all.every((t) => t.status === "succeeded"),
            Duration.seconds(10)
          )
          yield* Scope.close(second, Exit.void)

          // One answered transcription (the first request was abandoned unanswered), one extraction.
          assert.deepStrictEqual(yield* paths(fake), [
            "/v1/audio/transcriptions",
            "/v1/audio/transcriptions",
            "/v1/chat/completions"
          ])
          assert.deepStrictEqual(
            tasks.map((t) => [t.name, t.status]).sort(),
            [["recording.extract-notes", "succeeded"], ["recording.transcribe", "succeeded"]]
          )
          // A replayed upload step is the same task: the idempotency key holds.
          const again = yield* TaskQueue.enqueue(Pipeline.transcribeTask, { recordingId: created.id }, {
            idempotencyKey: `recording.transcribe:${created.id}:${created.sha256}`
          })
          assert.isFalse(again.inserted)
          assert.deepStrictEqual((yield* get(user.id, `/recordings/${created.id}/notes`)).body.notes, notes)
        }).pipe(
          Effect.provide(
            Layer.merge(postgresServer({ settings: provider(fake.baseUrl) }, database), NodeFileSystem.layer)
          )
        )
      }),
    60_000
  )

  it.scopedLive(
    "no provider: uploads wait in `uploaded`; a restart with one configured resumes them",
    () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.make([transcription, completion])
        const database = Layer.succeedContext(yield* Layer.build(TestDatabase.layer))
        // The same audio folder across the restart, as on a real server.
        const dir = yield* Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped()).pipe(
          Effect.provide(NodeFileSystem.layer)
        )
        const { created, user } = yield* Effect.gen(function*() {
          const { patient, user } = yield* therapistWithPatient
          const created = (yield* upload(user.id, [["patientId", patient.id], ["file", file]])).body
          assert.match(created.waitingReason, /No transcription provider is configured/)
          // The step finds no provider: it ends without spending attempts, the recording stays.
          assert.deepStrictEqual((yield* drain).map((r) => [r.name, r.outcome]), [[
            "recording.transcribe",
            "succeeded"
          ]])
          const waiting = (yield* get(user.id, `/recordings/${created.id}`)).body
          assert.strictEqual(waiting.status, "uploaded")
          assert.strictEqual(waiting.attempts, 0)
          assert.match(waiting.waitingReason, /CLINIC_RECORDINGS_PROVIDER_BASE_URL/)
          return { created, user }
        }).pipe(
          Effect.provide(
            Layer.merge(postgresServer({ settings: { CLINIC_RECORDINGS_DIR: dir } }, database), NodeFileSystem.layer)
          )
        )

        yield* Effect.gen(function*() {
          const scope = yield* Scope.make()
          yield* Layer.buildWithScope(Pipeline.workerLayer(), scope)
          const done = yield* waitForStatus(user.id, created.id, "completed")
          assert.isUndefined(done.body.waitingReason)
          yield* Scope.close(scope, Exit.void)
          assert.deepStrictEqual(yield* paths(fake), ["/v1/audio/transcriptions", "/v1/chat/completions"])
          // A second resume finds nothing to do.
          yield* Pipeline.resume
          const tasks = yield* Effect.flatMap(TaskStore, (s) => s.list({ queue: Pipeline.QUEUE, limit: 10 }))
          assert.strictEqual(tasks.filter((t) => t.status === "pending").length, 0)
          const row = yield* Effect.flatMap(RecordingRepo, (r) => r.findById(created.id))
          assert.strictEqual(row.status, "completed")
        }).pipe(
          Effect.provide(
            Layer.merge(
              postgresServer({ settings: { ...provider(fake.baseUrl), CLINIC_RECORDINGS_DIR: dir } }, database),
              NodeFileSystem.layer
            )
          )
        )
      }),
    60_000
  )
})
