import { Pagination } from "@clinic/domain"
import {
  NoteExtractor,
  Pipeline,
  RateLimiter,
  RecordingQueries,
  RecordingSteps,
  RecordingStore,
  RecordingUploads,
  Transcriber
} from "@clinic/recordings"
import { FileStores } from "@clinic/storage"
import { methodSpanProblems } from "@clinic/testing"
import { HttpClient, HttpClientError } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Duration, Effect, Layer, Option, Redacted, Stream } from "effect"
import { Auth } from "../src/auth/Auth.js"
import { AuthSessionMediaUploads } from "../src/auth/AuthSessionMediaUploads.js"
import { LoginThrottle } from "../src/auth/LoginThrottle.js"
import { Bookings } from "../src/Bookings.js"
import { Calendar } from "../src/Calendar.js"
import { Patients } from "../src/Patients.js"
import { memoryServer } from "./support/TestApi.js"

const id = "00000000-0000-4000-8000-000000000000"
const slot = {
  patientId: id,
  startsAt: DateTime.unsafeMake("2030-03-04T10:00:00Z"),
  endsAt: DateTime.unsafeMake("2030-03-04T11:00:00Z")
}

/** A provider that is configured but never answers: its calls fail at once, after their span started. */
const provider = {
  baseUrl: "http://provider.invalid",
  apiKey: Option.none(),
  transcriptionModel: "whisper-test",
  notesModel: "notes-test",
  timeout: Duration.seconds(1)
}
const offline = Layer.succeed(
  HttpClient.HttpClient,
  HttpClient.make((request) =>
    Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport", description: "offline" }))
  )
)

/**
 * Each service of the API and of its recordings feature as the app builds it (on the memory
 * stores), with how its methods are called: `methodSpanProblems` calls every function member, so
 * a method added without a `<Service>.<method>` span fails here without being listed.
 */
const services = Effect.gen(function*() {
  return [
    // With an idempotency key, so that the call goes all the way to the (nested) booking insert.
    ["Bookings", yield* Bookings, { args: { create: [id, slot, "spans-test"] } }],
    ["Patients", yield* Patients, {}],
    ["Calendar", yield* Calendar, {}],
    ["Auth", yield* Auth, {}],
    ["AuthSessionMediaUploads", yield* AuthSessionMediaUploads, {}],
    ["LoginThrottle", yield* LoginThrottle, {}],
    ["RecordingUploads", yield* RecordingUploads.RecordingUploads, {}],
    ["RecordingSteps", yield* RecordingSteps.RecordingSteps, { args: { supplyTranscript: [id, id, { text: "" }] } }],
    ["RecordingQueries", yield* RecordingQueries.RecordingQueries, { pure: ["waitingReason", "view"] }],
    ["RecordingPipeline", yield* Pipeline.RecordingPipeline, {}],
    ["RateLimiter", yield* RateLimiter.RateLimiter, {}],
    [
      "RecordingStore",
      yield* RecordingStore.RecordingStore,
      { args: { save: [{}], read: [`${id}.wav`], remove: [`${id}.wav`] } }
    ],
    ["Transcriber", yield* Transcriber.Transcriber, {}],
    ["Transcriber", yield* Effect.provide(Transcriber.makeOpenAi(provider), offline), {
      args: { transcribe: [{ content: Stream.empty, sizeBytes: 0, format: "wav" }] }
    }],
    ["NoteExtractor", yield* NoteExtractor.NoteExtractor, {}],
    ["NoteExtractor", yield* Effect.provide(NoteExtractor.makeOpenAi(provider), offline), {}],
    ["Pagination", yield* Pagination, {}],
    ["FileStores", yield* FileStores.FileStores, {
      args: { open: [{ name: "Not A Store Name", dir: "/nonexistent" }] }
    }]
  ] as const
})

const layer = Layer.mergeAll(
  Bookings.DefaultWithoutDependencies,
  Patients.Default,
  Calendar.DefaultWithoutDependencies,
  Auth.Default,
  LoginThrottle.Default,
  AuthSessionMediaUploads.Default,
  RateLimiter.RateLimiter.Default,
  RecordingStore.RecordingStore.layer,
  Transcriber.layerNotConfigured(),
  NoteExtractor.layerNotConfigured(),
  Pagination.layer(Redacted.make("spans-test-secret"))
).pipe(Layer.provideMerge(memoryServer()))

describe("API spans", () => {
  it.scoped("every method of every API and recordings service starts one span named <Service>.<method>", () =>
    Effect.gen(function*() {
      const problems: Array<string> = []
      for (const [name, service, calls] of yield* services) {
        problems.push(...(yield* methodSpanProblems(name, service, calls)))
      }
      assert.deepStrictEqual(problems, [])
    }).pipe(Effect.provide(layer)))
})
