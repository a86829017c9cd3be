import type { AudioFormat } from "@clinic/domain"
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { Context, Effect, Layer, Option, Schema, Stream } from "effect"
import { canonicalMimeType } from "./AudioValidation.js"
import { exchange } from "./OpenAiHttp.js"
import type { ProviderRejected, ProviderStatus, ProviderUnavailable } from "./ProviderErrors.js"
import { ProviderNotConfigured } from "./ProviderErrors.js"
import type { ProviderSettings } from "./RecordingsConfig.js"
import { RecordingsConfig } from "./RecordingsConfig.js"

export interface TranscriptionInput {
  /** The audio; read once per attempt, so a retry re-reads the file instead of holding it. */
  readonly content: Stream.Stream<Uint8Array, unknown>
  readonly sizeBytes: number
  readonly format: AudioFormat
}

export interface Transcription {
  readonly text: string
  readonly language: string | null
  readonly model: string
}

export interface TranscriberShape {
  readonly status: ProviderStatus
  readonly transcribe: (
    input: TranscriptionInput
  ) => Effect.Effect<Transcription, ProviderUnavailable | ProviderRejected | ProviderNotConfigured>
}

export class Transcriber extends Context.Tag("@clinic/recordings/Transcriber")<Transcriber, TranscriberShape>() {}

const TranscriptionResponse = Schema.Struct({
  text: Schema.String.pipe(Schema.filter((text) => text.trim() !== "" || "the transcript is empty")),
  language: Schema.optional(Schema.String)
})

const encoder = new TextEncoder()

/**
 * A multipart body whose file part is streamed: the audio is never held in memory, and the exact
 * length is known up front from the stored size. The part's filename is generic: the client's
 * original name never leaves the server.
 */
const multipartBody = (input: TranscriptionInput, model: string) => {
  const boundary = `clinic-${crypto.randomUUID()}`
  const field = (name: string, value: string) =>
    `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`
  const head = encoder.encode(
    field("model", model) + field("response_format", "json") +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="recording.${input.format}"\r\n` +
      `Content-Type: ${canonicalMimeType[input.format]}\r\n\r\n`
  )
  const tail = encoder.encode(`\r\n--${boundary}--\r\n`)
  return {
    stream: Stream.make(head).pipe(Stream.concat(input.content), Stream.concat(Stream.make(tail))),
    contentType: `multipart/form-data; boundary=${boundary}`,
    contentLength: head.length + input.sizeBytes + tail.length
  }
}

/** `POST /v1/audio/transcriptions` on an OpenAI-compatible server. */
export const makeOpenAi = (settings: ProviderSettings) =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const model = settings.transcriptionModel
    return Transcriber.of({
      status: { _tag: "Configured", baseUrl: settings.baseUrl, model },
      transcribe: (input) => {
        const body = multipartBody(input, model)
        const request = HttpClientRequest.post("").pipe(
          HttpClientRequest.bodyStream(body.stream, {
            contentType: body.contentType,
            contentLength: body.contentLength
          })
        )
        return exchange("transcriber", settings, "/v1/audio/transcriptions", request, TranscriptionResponse).pipe(
          Effect.map((response): Transcription => ({
            text: response.text,
            language: response.language ?? null,
            model
          })),
          Effect.provideService(HttpClient.HttpClient, client),
          Effect.withSpan("Transcriber.transcribe", { attributes: { model, sizeBytes: input.sizeBytes } })
        )
      }
    })
  })

/** A transcriber that explains why nothing is transcribed; recordings wait in `uploaded`. */
export const notConfigured = (reason: string): TranscriberShape => ({
  status: { _tag: "NotConfigured", reason },
  transcribe: () =>
    Effect.fail(new ProviderNotConfigured({ provider: "transcriber", message: reason })).pipe(
      Effect.withSpan("Transcriber.transcribe")
    )
})

export const NOT_CONFIGURED_REASON =
  "No transcription provider is configured (set CLINIC_RECORDINGS_PROVIDER_BASE_URL, and CLINIC_RECORDINGS_PROVIDER_API_KEY " +
  "if the server needs one); recordings wait in `uploaded` until one is."

/** The OpenAI-compatible transcriber when a provider is configured, else `notConfigured`. */
export const layer: Layer.Layer<Transcriber, never, RecordingsConfig | HttpClient.HttpClient> = Layer.effect(
  Transcriber,
  Effect.gen(function*() {
    const { provider } = yield* RecordingsConfig
    return Option.isSome(provider) ? yield* makeOpenAi(provider.value) : notConfigured(NOT_CONFIGURED_REASON)
  })
)

export const layerNotConfigured = (reason: string = NOT_CONFIGURED_REASON) =>
  Layer.succeed(Transcriber, notConfigured(reason))
