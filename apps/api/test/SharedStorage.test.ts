/**
 * Two API instances in one process, on one Postgres database and one S3 bucket (a real S3
 * protocol server), each with a local recordings folder of its own that stays empty: what one
 * stores, the other reads and deletes.
 */
import { Pipeline } from "@clinic/recordings"
import * as TestDatabase from "@clinic/repository/testing/TestDatabase"
import * as S3TestServer from "@clinic/storage/testing/S3TestServer"
import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer } from "effect"
import { audioBytes, heads } from "../../../packages/recordings/test/audio.js"
import * as FakeOpenAi from "../../../packages/recordings/test/FakeOpenAi.js"
import { del, get, pollUntil, postgresServer, therapistWithPatient, upload } from "./support/TestApi.js"

const file = { name: "session.mp3", type: "audio/mpeg", bytes: audioBytes(heads.mp3Id3, 64 * 1024) }
const transcription = FakeOpenAi.json(200, { text: "We talked about sleep.", language: "english" })
const completion = FakeOpenAi.json(200, {
  model: "notes-test",
  choices: [{
    index: 0,
    finish_reason: "stop",
    message: {
      role: "assistant",
      content: JSON.stringify({ summary: "Sleep.", topics: ["sleep"], mood: "calm", risks: [], followUpActions: [] })
    }
  }]
})

describe("shared object storage (two API instances, one bucket)", () => {
  it.scopedLive(
    "a recording uploaded through one instance is transcribed by the other's worker, and deleted through it",
    () =>
      Effect.gen(function*() {
        const s3 = yield* S3TestServer.start()
        const fake = yield* FakeOpenAi.make([transcription, completion])
        const database = Layer.succeedContext(yield* Layer.build(TestDatabase.layer))
        const fs = yield* Effect.provide(FileSystem.FileSystem, NodeFileSystem.layer)
        const folders = [yield* fs.makeTempDirectoryScoped(), yield* fs.makeTempDirectoryScoped()]
        const instance = (dir: string, settings: Record<string, string> = {}) =>
          Layer.build(postgresServer({ settings: { ...s3.env, CLINIC_RECORDINGS_DIR: dir, ...settings } }, database))
        const first = yield* instance(folders[0])
        const second = yield* instance(folders[1], { CLINIC_RECORDINGS_PROVIDER_BASE_URL: fake.baseUrl })

        const { created, user } = yield* Effect.gen(function*() {
          const { patient, user } = yield* therapistWithPatient
          const created = (yield* upload(user.id, [["patientId", patient.id], ["file", file]])).body
          return { created, user }
        }).pipe(Effect.provide(first))
        assert.deepStrictEqual(yield* s3.keys, [`recordings/${created.id}`])

        yield* Effect.gen(function*() {
          yield* Layer.build(Pipeline.workerLayer())
          const done = yield* pollUntil(
            get(user.id, `/recordings/${created.id}`),
            (res) => res.body.status === "completed",
            Duration.seconds(30)
          )
          assert.strictEqual(done.body.sizeBytes, file.bytes.length)
          const [sent] = yield* fake.received
          assert.strictEqual(sent.url, "/v1/audio/transcriptions")
          assert.isTrue(sent.body.includes(Buffer.from(file.bytes)), "the provider got the uploaded bytes")
          assert.strictEqual((yield* del(user.id, `/recordings/${created.id}`)).status, 204)
        }).pipe(Effect.scoped, Effect.provide(second))

        assert.deepStrictEqual(yield* s3.keys, [])
        for (const dir of folders) assert.deepStrictEqual(yield* fs.readDirectory(dir), [])
      }),
    60_000
  )
})
