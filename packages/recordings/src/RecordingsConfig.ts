import { projectRoot } from "@clinic/foundation"
import type { Effect, Redacted } from "effect"
import type { ConfigError } from "effect"
import { Config, Context, Duration, Layer, Option } from "effect"
import * as Os from "node:os"
import * as Path from "node:path"
import { DEFAULT_MAX_AUDIO_BYTES } from "./AudioValidation.js"

export interface RateLimitPolicy {
  readonly limit: number
  readonly window: Duration.Duration
}

/** An OpenAI-compatible endpoint: the real API, or any local server that speaks it. */
export interface ProviderSettings {
  /** Without the `/v1` suffix, e.g. `https://api.openai.com` or `http://127.0.0.1:8080`. */
  readonly baseUrl: string
  /** Optional: local servers often need none. */
  readonly apiKey: Option.Option<Redacted.Redacted>
  readonly transcriptionModel: string
  readonly notesModel: string
  /** Per request; a transcription of a long session takes minutes. */
  readonly timeout: Duration.Duration
}

export interface RecordingsSettings {
  /** Where uploads are written when storage is local (`CLINIC_STORAGE`), under names the server generates. */
  readonly storageDir: string
  readonly maxUploadBytes: number
  readonly uploadLimit: RateLimitPolicy
  readonly extractNotesLimit: RateLimitPolicy
  /** Retention: delete the audio once notes exist (default: keep it). */
  readonly deleteAudioAfterNotes: boolean
  /** `None` when no provider is configured: uploads then wait in `uploaded`. */
  readonly provider: Option.Option<ProviderSettings>
  /** Whether this process (the API) works the `recordings` queue; off when another process hosts it. */
  readonly runWorker: boolean
}

const policy = (name: string, limit: number) =>
  Config.all({
    limit: Config.integer(`${name}_LIMIT`).pipe(Config.withDefault(limit)),
    window: Config.duration(`${name}_WINDOW`).pipe(Config.withDefault(Duration.hours(1)))
  })

const providerConfig: Config.Config<Omit<ProviderSettings, "baseUrl">> = Config.all({
  apiKey: Config.option(Config.redacted("CLINIC_RECORDINGS_PROVIDER_API_KEY")),
  transcriptionModel: Config.string("CLINIC_RECORDINGS_TRANSCRIPTION_MODEL").pipe(Config.withDefault("whisper-1")),
  notesModel: Config.string("CLINIC_RECORDINGS_NOTES_MODEL").pipe(Config.withDefault("gpt-4o-mini")),
  timeout: Config.duration("CLINIC_RECORDINGS_PROVIDER_TIMEOUT").pipe(Config.withDefault(Duration.minutes(10)))
})

/**
 * Every setting of the recordings feature, read here and nowhere else, in one `Config.all` so that
 * every bad variable is reported at once. The provider is configured by
 * `CLINIC_RECORDINGS_PROVIDER_BASE_URL`; its other settings have defaults and matter only then.
 */
const settings: Config.Config<RecordingsSettings> = Config.all({
  storageDir: Config.string("CLINIC_RECORDINGS_DIR").pipe(
    Config.withDefault(Path.join(projectRoot(), ".data", "recordings"))
  ),
  maxUploadBytes: Config.integer("CLINIC_RECORDINGS_MAX_UPLOAD_BYTES").pipe(
    Config.validate({ message: "CLINIC_RECORDINGS_MAX_UPLOAD_BYTES must be positive", validation: (n) => n > 0 }),
    Config.withDefault(DEFAULT_MAX_AUDIO_BYTES)
  ),
  uploadLimit: policy("CLINIC_RECORDINGS_UPLOAD_RATE", 10),
  extractNotesLimit: policy("CLINIC_RECORDINGS_EXTRACT_NOTES_RATE", 20),
  deleteAudioAfterNotes: Config.boolean("CLINIC_RECORDINGS_DELETE_AUDIO_AFTER_NOTES").pipe(Config.withDefault(false)),
  baseUrl: Config.option(Config.string("CLINIC_RECORDINGS_PROVIDER_BASE_URL")),
  provider: providerConfig,
  runWorker: Config.boolean("CLINIC_RECORDINGS_WORKER").pipe(Config.withDefault(true))
}).pipe(
  Config.map(({ baseUrl, provider, ...rest }) => ({
    ...rest,
    provider: Option.map(baseUrl, (url) => ({ ...provider, baseUrl: url.replace(/\/+$/, "") }))
  }))
)

export const recordingsConfig: Effect.Effect<RecordingsSettings, ConfigError.ConfigError> = settings

export class RecordingsConfig extends Context.Tag("@clinic/recordings/RecordingsConfig")<
  RecordingsConfig,
  RecordingsSettings
>() {
  /** For `Settings.layer`, which loads it together with the other config services of the app. */
  static readonly load = recordingsConfig
  static readonly layer = Layer.effect(RecordingsConfig, recordingsConfig)

  /** Tests: the defaults with `overrides` on top (give `storageDir` a folder the test owns). */
  static readonly layerTest = (overrides: Partial<RecordingsSettings> = {}) =>
    Layer.succeed(RecordingsConfig, {
      storageDir: Path.join(Os.tmpdir(), "clinic-recordings-unused"),
      maxUploadBytes: DEFAULT_MAX_AUDIO_BYTES,
      uploadLimit: { limit: 10, window: Duration.hours(1) },
      extractNotesLimit: { limit: 20, window: Duration.hours(1) },
      deleteAudioAfterNotes: false,
      provider: Option.none(),
      runWorker: false,
      ...overrides
    })
}
