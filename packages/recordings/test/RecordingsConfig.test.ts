import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Option, Redacted } from "effect"
import { recordingsConfig } from "../src/RecordingsConfig.js"

const withEnv = (env: Record<string, string>) =>
  Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

describe("RecordingsConfig", () => {
  it.effect("defaults: 200 MiB, 10 uploads and 20 extractions per hour, no provider", () =>
    Effect.gen(function*() {
      const config = yield* recordingsConfig.pipe(withEnv({}))
      assert.strictEqual(config.maxUploadBytes, 200 * 1024 * 1024)
      assert.strictEqual(config.uploadLimit.limit, 10)
      assert.strictEqual(config.extractNotesLimit.limit, 20)
      assert.isTrue(Duration.equals(config.uploadLimit.window, Duration.hours(1)))
      assert.isTrue(config.storageDir.endsWith(".data/recordings"))
      assert.isTrue(Option.isNone(config.provider))
    }))

  it.effect("a base URL configures the provider; the key stays redacted", () =>
    Effect.gen(function*() {
      const config = yield* recordingsConfig.pipe(withEnv({
        CLINIC_RECORDINGS_PROVIDER_BASE_URL: "http://127.0.0.1:8080/",
        CLINIC_RECORDINGS_PROVIDER_API_KEY: "sk-secret",
        CLINIC_RECORDINGS_NOTES_MODEL: "local-llm",
        CLINIC_RECORDINGS_PROVIDER_TIMEOUT: "90 seconds",
        CLINIC_RECORDINGS_UPLOAD_RATE_LIMIT: "3",
        CLINIC_RECORDINGS_MAX_UPLOAD_BYTES: "1048576"
      }))
      const provider = Option.getOrThrow(config.provider)
      assert.strictEqual(provider.baseUrl, "http://127.0.0.1:8080")
      assert.strictEqual(Redacted.value(Option.getOrThrow(provider.apiKey)), "sk-secret")
      assert.notInclude(String(provider.apiKey), "sk-secret")
      assert.strictEqual(provider.notesModel, "local-llm")
      assert.strictEqual(provider.transcriptionModel, "whisper-1")
      assert.strictEqual(Duration.toSeconds(provider.timeout), 90)
      assert.strictEqual(config.uploadLimit.limit, 3)
      assert.strictEqual(config.maxUploadBytes, 1048576)
    }))

  it.effect("every bad variable is reported at once, each by name", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(recordingsConfig.pipe(withEnv({
        CLINIC_RECORDINGS_MAX_UPLOAD_BYTES: "-1",
        CLINIC_RECORDINGS_UPLOAD_RATE_WINDOW: "soon",
        CLINIC_RECORDINGS_WORKER: "perhaps"
      })))
      const message = String(error)
      for (
        const name of [
          "CLINIC_RECORDINGS_MAX_UPLOAD_BYTES",
          "CLINIC_RECORDINGS_UPLOAD_RATE_WINDOW",
          "CLINIC_RECORDINGS_WORKER"
        ]
      ) {
        assert.include(message, name)
      }
    }))
})
