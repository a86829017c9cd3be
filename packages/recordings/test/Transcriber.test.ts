import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Layer, Option, Schedule, Stream, TestClock } from "effect"
import { isRetryable } from "../src/ProviderErrors.js"
import { RecordingsConfig } from "../src/RecordingsConfig.js"
import * as Transcriber from "../src/Transcriber.js"
import { audioBytes, chunked, heads } from "./audio.js"
import * as FakeOpenAi from "./FakeOpenAi.js"
import { formData, settings } from "./providerFixtures.js"

const audio = audioBytes(heads.mp3Id3, 50_000)
const input: Transcriber.TranscriptionInput = {
  content: Stream.fromIterable(chunked(audio, 8192)),
  sizeBytes: audio.length,
  format: "mp3"
}

const transcriber = (baseUrl: string, overrides: Parameters<typeof settings>[1] = {}) =>
  Transcriber.makeOpenAi(settings(baseUrl, overrides)).pipe(Effect.provide(NodeHttpClient.layer))

describe("Transcriber (OpenAI-compatible)", () => {
  it.scoped("streams the audio as multipart with the model and bearer key, and returns the text", () =>
    Effect.gen(function*() {
      const server = yield* FakeOpenAi.make([FakeOpenAi.json(200, { text: "Hello there.", language: "english" })])
      const service = yield* transcriber(server.baseUrl)
      assert.deepStrictEqual(service.status, { _tag: "Configured", baseUrl: server.baseUrl, model: "whisper-test" })
      const result = yield* service.transcribe(input)
      assert.deepStrictEqual(result, { text: "Hello there.", language: "english", model: "whisper-test" })

      const [request] = yield* server.received
      assert.strictEqual(request.method, "POST")
      assert.strictEqual(request.url, "/v1/audio/transcriptions")
      assert.strictEqual(request.headers.authorization, "Bearer sk-test-key")
      assert.strictEqual(Number(request.headers["content-length"]), request.body.length)
      const form = yield* Effect.promise(() => formData(request.body, request.headers["content-type"]!))
      assert.strictEqual(form.get("model"), "whisper-test")
      const file = form.get("file") as File
      assert.strictEqual(file.name, "recording.mp3")
      assert.strictEqual(file.type, "audio/mpeg")
      const sent = new Uint8Array(yield* Effect.promise(() => file.arrayBuffer()))
      assert.isTrue(Buffer.from(sent).equals(Buffer.from(audio)))
    }))

  it.scoped("sends no Authorization header when no key is configured (local servers)", () =>
    Effect.gen(function*() {
      const server = yield* FakeOpenAi.make([FakeOpenAi.json(200, { text: "ok" })])
      const service = yield* transcriber(server.baseUrl, { apiKey: Option.none() })
      assert.strictEqual((yield* service.transcribe(input)).language, null)
      const [request] = yield* server.received
      assert.isUndefined(request.headers.authorization)
    }))

  it.scoped("5xx and 429 are retryable, with the provider's message and Retry-After", () =>
    Effect.gen(function*() {
      const server = yield* FakeOpenAi.make([
        FakeOpenAi.json(503, { error: { message: "The server is overloaded" } }),
        FakeOpenAi.json(429, { error: { message: "Rate limit reached" } }, { "retry-after": "7" })
      ])
      const service = yield* transcriber(server.baseUrl)
      const overloaded = yield* Effect.flip(service.transcribe(input))
      assert.strictEqual(overloaded._tag, "ProviderUnavailable")
      assert.isTrue(isRetryable(overloaded))
      if (overloaded._tag === "ProviderUnavailable") {
        assert.strictEqual(overloaded.reason, "server-error")
        assert.strictEqual(overloaded.status, 503)
        assert.include(overloaded.message, "The server is overloaded")
      }
      const limited = yield* Effect.flip(service.transcribe(input))
      assert.strictEqual(limited._tag, "ProviderUnavailable")
      if (limited._tag === "ProviderUnavailable") {
        assert.strictEqual(limited.reason, "rate-limited")
        assert.strictEqual(limited.retryAfter, 7)
      }
    }))

  it.scoped("other 4xx are permanent", () =>
    Effect.gen(function*() {
      const server = yield* FakeOpenAi.make([
        FakeOpenAi.json(400, { error: { message: "Invalid file format." } }),
        FakeOpenAi.text(401, "Unauthorized")
      ])
      const service = yield* transcriber(server.baseUrl)
      const invalid = yield* Effect.flip(service.transcribe(input))
      assert.strictEqual(invalid._tag, "ProviderRejected")
      assert.isFalse(isRetryable(invalid))
      assert.include(invalid.message, "Invalid file format.")
      const unauthorized = yield* Effect.flip(service.transcribe(input))
      assert.deepInclude(unauthorized, { _tag: "ProviderRejected", status: 401 })
    }))

  it.scoped("malformed output is a permanent error: not JSON, wrong shape, empty transcript", () =>
    Effect.gen(function*() {
      const server = yield* FakeOpenAi.make([
        FakeOpenAi.text(200, "<html>gateway</html>"),
        FakeOpenAi.json(200, { transcript: "wrong field" }),
        FakeOpenAi.json(200, { text: "   " })
      ])
      const service = yield* transcriber(server.baseUrl)
      for (let i = 0; i < 3; i++) {
        const error = yield* Effect.flip(service.transcribe(input))
        assert.strictEqual(error._tag, "ProviderRejected")
        if (error._tag === "ProviderRejected") assert.strictEqual(error.reason, "malformed")
      }
    }))

  it.scoped("a provider that never answers times out (retryable), driven by TestClock", () =>
    Effect.gen(function*() {
      const server = yield* FakeOpenAi.make([FakeOpenAi.hang])
      const service = yield* transcriber(server.baseUrl, { timeout: Duration.minutes(2) })
      const fiber = yield* Effect.fork(service.transcribe(input))
      yield* server.firstRequest
      yield* TestClock.adjust("1 minute")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      yield* TestClock.adjust("1 minute")
      const error = yield* Effect.flip(Fiber.join(fiber))
      assert.strictEqual(error._tag, "ProviderUnavailable")
      if (error._tag === "ProviderUnavailable") assert.strictEqual(error.reason, "timeout")
    }))

  it.scoped("a dropped connection or nobody listening is retryable", () =>
    Effect.gen(function*() {
      const server = yield* FakeOpenAi.make([FakeOpenAi.drop])
      const dropped = yield* Effect.flip((yield* transcriber(server.baseUrl)).transcribe(input))
      assert.deepInclude(dropped, { _tag: "ProviderUnavailable", reason: "network" })
      const refused = yield* Effect.flip((yield* transcriber(yield* FakeOpenAi.closedBaseUrl)).transcribe(input))
      assert.deepInclude(refused, { _tag: "ProviderUnavailable", reason: "network" })
    }))

  it.scoped("a provider that fails then succeeds: a retry sends the whole file again", () =>
    Effect.gen(function*() {
      const server = yield* FakeOpenAi.make([
        FakeOpenAi.json(502, { error: { message: "bad gateway" } }),
        FakeOpenAi.json(200, { text: "second time lucky" })
      ])
      const service = yield* transcriber(server.baseUrl)
      const result = yield* service.transcribe(input).pipe(
        Effect.retry({ schedule: Schedule.recurs(3), while: isRetryable })
      )
      assert.strictEqual(result.text, "second time lucky")
      const requests = yield* server.received
      assert.strictEqual(requests.length, 2)
      assert.strictEqual(requests[1].body.length, requests[0].body.length)
      assert.isTrue(requests[1].body.length > audio.length)
    }))

  it.effect("not configured: the status says why and transcribing fails without a request", () =>
    Effect.gen(function*() {
      const service = yield* Transcriber.Transcriber
      assert.strictEqual(service.status._tag, "NotConfigured")
      if (service.status._tag === "NotConfigured") {
        assert.include(service.status.reason, "CLINIC_RECORDINGS_PROVIDER_BASE_URL")
      }
      const error = yield* Effect.flip(service.transcribe(input))
      assert.strictEqual(error._tag, "ProviderNotConfigured")
      assert.isFalse(isRetryable(error))
    }).pipe(Effect.provide(
      Transcriber.layer.pipe(Layer.provide(RecordingsConfig.layerTest()), Layer.provide(NodeHttpClient.layer))
    )))

  it.scoped("the layer uses the configured provider", () =>
    Effect.gen(function*() {
      const server = yield* FakeOpenAi.make([FakeOpenAi.json(200, { text: "configured" })])
      const service = yield* Effect.provide(
        Transcriber.Transcriber,
        Transcriber.layer.pipe(
          Layer.provide(RecordingsConfig.layerTest({ provider: Option.some(settings(server.baseUrl)) })),
          Layer.provide(NodeHttpClient.layer)
        )
      )
      assert.strictEqual((yield* service.transcribe(input)).text, "configured")
    }))
})
