import { ClinicalNotes } from "@clinic/domain"
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { Context, Effect, JSONSchema as Json, Layer, Option, ParseResult, Schema } from "effect"
import { exchange } from "./OpenAiHttp.js"
import type { ProviderStatus, ProviderUnavailable } from "./ProviderErrors.js"
import { ProviderNotConfigured, ProviderRejected } from "./ProviderErrors.js"
import type { ProviderSettings } from "./RecordingsConfig.js"
import { RecordingsConfig } from "./RecordingsConfig.js"

export interface ExtractedNotes {
  readonly notes: ClinicalNotes
  readonly model: string
}

export interface NoteExtractorShape {
  readonly status: ProviderStatus
  readonly extract: (
    transcript: string
  ) => Effect.Effect<ExtractedNotes, ProviderUnavailable | ProviderRejected | ProviderNotConfigured>
}

export class NoteExtractor extends Context.Tag("@clinic/recordings/NoteExtractor")<
  NoteExtractor,
  NoteExtractorShape
>() {}

/** The JSON schema the model must follow: `ClinicalNotes` itself, so what it promises we decode. */
export const clinicalNotesJsonSchema = (): object => {
  const definitions: Record<string, Json.JsonSchema7> = {}
  const root = Json.fromAST(ClinicalNotes.ast, { definitions, topLevelReferenceStrategy: "skip" })
  return Object.keys(definitions).length > 0 ? { ...root, $defs: definitions } : root
}

export const SYSTEM_PROMPT = [
  "You are a clinical documentation assistant for a licensed therapist.",
  "From the session transcript, write concise clinical notes: a neutral summary, the topics discussed,",
  "the client's overall mood in a few words, any risks (self-harm, harm to others, safeguarding,",
  "substance use) with a severity of low, medium or high, and concrete follow-up actions.",
  "Only state what the transcript supports; use empty lists when there is nothing to report."
].join(" ")

const ChatCompletion = Schema.Struct({
  model: Schema.optional(Schema.String),
  choices: Schema.NonEmptyArray(Schema.Struct({
    finish_reason: Schema.optional(Schema.NullOr(Schema.String)),
    message: Schema.Struct({
      content: Schema.optional(Schema.NullOr(Schema.String)),
      refusal: Schema.optional(Schema.NullOr(Schema.String))
    })
  }))
})

const decodeNotes = Schema.decodeUnknown(Schema.parseJson(ClinicalNotes))

/** `POST /v1/chat/completions` with a strict `json_schema` response format. */
export const makeOpenAi = (settings: ProviderSettings) =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const model = settings.notesModel
    const responseFormat = {
      type: "json_schema",
      json_schema: { name: "clinical_notes", strict: true, schema: clinicalNotesJsonSchema() }
    }
    const rejected = (reason: "malformed" | "refused", message: string) =>
      new ProviderRejected({ provider: "note-extractor", reason, status: 200, message })

    return NoteExtractor.of({
      status: { _tag: "Configured", baseUrl: settings.baseUrl, model },
      extract: (transcript) =>
        Effect.gen(function*() {
          const request = HttpClientRequest.post("").pipe(
            HttpClientRequest.bodyUnsafeJson({
              model,
              messages: [
                { role: "system", content: SYSTEM_PROMPT },
                { role: "user", content: transcript }
              ],
              response_format: responseFormat
            })
          )
          const completion = yield* exchange(
            "note-extractor",
            settings,
            "/v1/chat/completions",
            request,
            ChatCompletion
          )
          const choice = completion.choices[0]
          if (choice.message.refusal) {
            return yield* rejected("refused", `The model refused: ${choice.message.refusal.slice(0, 500)}`)
          }
          if (choice.finish_reason === "length") {
            return yield* rejected("malformed", "The notes were cut off at the model's output limit")
          }
          const notes = yield* decodeNotes(choice.message.content ?? "").pipe(
            Effect.mapError((error) =>
              rejected(
                "malformed",
                `The notes did not match the schema: ${ParseResult.TreeFormatter.formatErrorSync(error).slice(0, 500)}`
              )
            )
          )
          return { notes, model: completion.model ?? model }
        }).pipe(
          Effect.provideService(HttpClient.HttpClient, client),
          Effect.withSpan("NoteExtractor.extract", { attributes: { model } })
        )
    })
  })

export const NOT_CONFIGURED_REASON =
  "No note extraction provider is configured (set CLINIC_RECORDINGS_PROVIDER_BASE_URL, and " +
  "CLINIC_RECORDINGS_PROVIDER_API_KEY if the server needs one); transcripts wait for notes until one is."

export const notConfigured = (reason: string): NoteExtractorShape => ({
  status: { _tag: "NotConfigured", reason },
  extract: () =>
    Effect.fail(new ProviderNotConfigured({ provider: "note-extractor", message: reason })).pipe(
      Effect.withSpan("NoteExtractor.extract")
    )
})

/** The OpenAI-compatible extractor when a provider is configured, else `notConfigured`. */
export const layer: Layer.Layer<NoteExtractor, never, RecordingsConfig | HttpClient.HttpClient> = Layer.effect(
  NoteExtractor,
  Effect.gen(function*() {
    const { provider } = yield* RecordingsConfig
    return Option.isSome(provider) ? yield* makeOpenAi(provider.value) : notConfigured(NOT_CONFIGURED_REASON)
  })
)

export const layerNotConfigured = (reason: string = NOT_CONFIGURED_REASON) =>
  Layer.succeed(NoteExtractor, notConfigured(reason))
