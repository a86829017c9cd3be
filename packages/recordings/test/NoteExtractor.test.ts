import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Layer, Option, TestClock } from "effect"
import * as NoteExtractor from "../src/NoteExtractor.js"
import { isRetryable } from "../src/ProviderErrors.js"
import { RecordingsConfig } from "../src/RecordingsConfig.js"
import * as FakeOpenAi from "./FakeOpenAi.js"
import { settings } from "./providerFixtures.js"

const notes = {
  summary: "Client discussed sleep problems and work stress.",
  topics: ["sleep", "work"],
  mood: "tired but engaged",
  risks: [{ description: "Mentions drinking more at night", severity: "medium" }],
  followUpActions: ["Sleep diary for two weeks"]
}

const completion = (content: string | null, extra: Record<string, unknown> = {}) =>
  FakeOpenAi.json(200, {
    id: "chatcmpl-1",
    object: "chat.completion",
    model: "notes-test-2026",
    choices: [{ index: 0, finish_reason: "stop", message: { role: "assistant", content, ...extra } }]
  })

const extractor = (baseUrl: string, overrides: Parameters<typeof settings>[1] = {}) =>
  NoteExtractor.makeOpenAi(settings(baseUrl, overrides)).pipe(Effect.provide(NodeHttpClient.layer))

const transcript = "Therapist: How have you slept? Client: Badly, I have a glass of wine to fall asleep."

describe("NoteExtractor (OpenAI-compatible)", () => {
  it.scoped("asks for structured output with the notes' JSON schema and decodes the answer", () =>
    Effect.gen(function*() {
      const server = yield* FakeOpenAi.make([completion(JSON.stringify(notes))])
      const service = yield* extractor(server.baseUrl)
      const result = yield* service.extract(transcript)
      assert.strictEqual(result.model, "notes-test-2026")
      assert.deepStrictEqual(result.notes.topics, ["sleep", "work"])
      assert.strictEqual(result.notes.risks[0].severity, "medium")

      const [request] = yield* server.received
      assert.strictEqual(request.url, "/v1/chat/completions")
      assert.strictEqual(request.headers.authorization, "Bearer sk-test-key")
      const body = JSON.parse(request.body.toString("utf8"))
      assert.strictEqual(body.model, "notes-test")
      assert.deepStrictEqual(body.messages.map((m: { readonly role: string }) => m.role), ["system", "user"])
      assert.strictEqual(body.messages[1].content, transcript)
      assert.strictEqual(body.response_format.type, "json_schema")
      assert.strictEqual(body.response_format.json_schema.strict, true)
      const schema = body.response_format.json_schema.schema
      assert.strictEqual(schema.type, "object")
      assert.strictEqual(schema.additionalProperties, false)
      assert.deepStrictEqual([...schema.required].sort(), ["followUpActions", "mood", "risks", "summary", "topics"])
      assert.deepStrictEqual(schema.properties.risks.items.properties.severity.enum, ["low", "medium", "high"])
    }))

  it.scoped("output that breaks the schema is a permanent, malformed error", () =>
    Effect.gen(function*() {
      const server = yield* FakeOpenAi.make([
        completion("Sure! Here are the notes: ..."),
        completion(JSON.stringify({ ...notes, risks: [{ description: "x", severity: "extreme" }] })),
        completion(JSON.stringify({ summary: "only a summary" })),
        completion(null),
        FakeOpenAi.json(200, { choices: [] })
      ])
      const service = yield* extractor(server.baseUrl)
      for (let i = 0; i < 5; i++) {
        const error = yield* Effect.flip(service.extract(transcript))
        assert.strictEqual(error._tag, "ProviderRejected", `reply ${i}`)
        if (error._tag === "ProviderRejected") assert.strictEqual(error.reason, "malformed", `reply ${i}`)
        assert.isFalse(isRetryable(error))
      }
    }))

  it.scoped("a refusal and a truncated answer are permanent", () =>
    Effect.gen(function*() {
      const server = yield* FakeOpenAi.make([
        completion(null, { refusal: "I can't help with that." }),
        FakeOpenAi.json(200, {
          model: "m",
          choices: [{ finish_reason: "length", message: { content: "{\"summary\": \"cut" } }]
        })
      ])
      const service = yield* extractor(server.baseUrl)
      const refused = yield* Effect.flip(service.extract(transcript))
      assert.deepInclude(refused, { _tag: "ProviderRejected", reason: "refused" })
      assert.include(refused.message, "I can't help with that.")
      const truncated = yield* Effect.flip(service.extract(transcript))
      assert.deepInclude(truncated, { _tag: "ProviderRejected", reason: "malformed" })
    }))

  it.scoped("5xx is retryable, an unknown model (404) is not", () =>
    Effect.gen(function*() {
      const server = yield* FakeOpenAi.make([
        FakeOpenAi.json(500, { error: { message: "internal" } }),
        FakeOpenAi.json(404, { error: { message: "The model `notes-test` does not exist" } })
      ])
      const service = yield* extractor(server.baseUrl)
      const internal = yield* Effect.flip(service.extract(transcript))
      assert.isTrue(isRetryable(internal))
      const missing = yield* Effect.flip(service.extract(transcript))
      assert.isFalse(isRetryable(missing))
      assert.include(missing.message, "does not exist")
    }))

  it.scoped("times out on the configured duration", () =>
    Effect.gen(function*() {
      const server = yield* FakeOpenAi.make([FakeOpenAi.hang])
      const service = yield* extractor(server.baseUrl, { timeout: Duration.seconds(30) })
      const fiber = yield* Effect.fork(service.extract(transcript))
      yield* server.firstRequest
      yield* TestClock.adjust("29 seconds")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      yield* TestClock.adjust("1 second")
      const error = yield* Effect.flip(Fiber.join(fiber))
      assert.deepInclude(error, { _tag: "ProviderUnavailable", reason: "timeout" })
    }))

  it.effect("not configured: reports why and makes no request", () =>
    Effect.gen(function*() {
      const service = yield* NoteExtractor.NoteExtractor
      assert.strictEqual(service.status._tag, "NotConfigured")
      const error = yield* Effect.flip(service.extract(transcript))
      assert.strictEqual(error._tag, "ProviderNotConfigured")
    }).pipe(Effect.provide(
      NoteExtractor.layer.pipe(Layer.provide(RecordingsConfig.layerTest()), Layer.provide(NodeHttpClient.layer))
    )))
})
