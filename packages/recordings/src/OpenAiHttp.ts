import type { HttpClientError } from "@effect/platform"
import { HttpClient, HttpClientRequest, type HttpClientResponse } from "@effect/platform"
import { Duration, Effect, Option, ParseResult, Schema } from "effect"
import type { ProviderName } from "./ProviderErrors.js"
import { ProviderRejected, ProviderUnavailable } from "./ProviderErrors.js"
import type { ProviderSettings } from "./RecordingsConfig.js"

/**
 * The HTTP exchange shared by the OpenAI-compatible providers: authentication, a timeout over the
 * whole exchange, and the split of every failure into retryable (`ProviderUnavailable`) or
 * permanent (`ProviderRejected`).
 */

const MAX_MESSAGE = 500

const retryableStatus = (status: number) => status === 408 || status === 425 || status === 429 || status >= 500

/** `Retry-After` in seconds, from either of its two forms. */
const retryAfterSeconds = (value: string | undefined, now: number): number | null => {
  if (value === undefined) return null
  const seconds = Number(value)
  if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds)
  const date = Date.parse(value)
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - now) / 1000))
}

const ErrorBody = Schema.parseJson(Schema.Struct({ error: Schema.Struct({ message: Schema.String }) }))

/** The provider's own explanation (OpenAI's `{ error: { message } }`) or the start of the body. */
const describe = (body: string): string =>
  Option.match(Schema.decodeUnknownOption(ErrorBody)(body), {
    onNone: () => body.slice(0, MAX_MESSAGE),
    onSome: (parsed) => parsed.error.message.slice(0, MAX_MESSAGE)
  })

const statusError = (provider: ProviderName, response: HttpClientResponse.HttpClientResponse) =>
  Effect.gen(function*() {
    const body = yield* response.text.pipe(Effect.orElseSucceed(() => ""))
    const message = `Provider answered ${response.status}: ${describe(body) || "no details"}`
    if (retryableStatus(response.status)) {
      const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
      return yield* new ProviderUnavailable({
        provider,
        reason: response.status === 429 ? "rate-limited" : "server-error",
        status: response.status,
        retryAfter: retryAfterSeconds(response.headers["retry-after"], now),
        message
      })
    }
    return yield* new ProviderRejected({ provider, reason: "client-error", status: response.status, message })
  })

const malformed = (provider: ProviderName, status: number, detail: string) =>
  new ProviderRejected({
    provider,
    reason: "malformed",
    status,
    message: `Provider output did not match the expected shape: ${detail.slice(0, MAX_MESSAGE)}`
  })

const unreachable = (provider: ProviderName, error: HttpClientError.HttpClientError) =>
  new ProviderUnavailable({
    provider,
    reason: "network",
    status: null,
    retryAfter: null,
    message: `Provider unreachable: ${error.message}`
  })

const requestFailure = (
  provider: ProviderName,
  error: HttpClientError.RequestError
): ProviderUnavailable | ProviderRejected =>
  error.reason === "Transport"
    ? unreachable(provider, error)
    : new ProviderRejected({ provider, reason: "client-error", status: null, message: error.message })

/**
 * Sends `request` to `settings.baseUrl + path` and decodes a 2xx JSON body with `schema`. Any
 * failure is classified; nothing else escapes.
 */
export const exchange = <A, I>(
  provider: ProviderName,
  settings: ProviderSettings,
  path: string,
  request: HttpClientRequest.HttpClientRequest,
  schema: Schema.Schema<A, I>
): Effect.Effect<A, ProviderUnavailable | ProviderRejected, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const authorized = Option.match(settings.apiKey, {
      onNone: () => request,
      onSome: (key) => HttpClientRequest.bearerToken(request, key)
    })
    const response = yield* client.execute(
      HttpClientRequest.setUrl(authorized, `${settings.baseUrl}${path}`).pipe(
        HttpClientRequest.acceptJson
      )
    )
    if (response.status < 200 || response.status >= 300) return yield* statusError(provider, response)
    const json = yield* response.json.pipe(
      // The reason alone: the parser's message quotes the body, which may be a transcript.
      Effect.catchTag("ResponseError", (error) => Effect.fail(malformed(provider, response.status, error.reason)))
    )
    return yield* Schema.decodeUnknown(schema)(json).pipe(
      // Where the output broke the schema, not the values found there (transcripts, notes).
      Effect.mapError((error) =>
        malformed(
          provider,
          response.status,
          ParseResult.ArrayFormatter.formatErrorSync(error)
            .map((issue) => `${issue.path.join(".") || "(root)"} (${issue._tag})`)
            .join(", ")
        )
      )
    )
  }).pipe(
    Effect.catchTags({
      RequestError: (error) => Effect.fail(requestFailure(provider, error)),
      // The body broke off after the status line: the connection dropped.
      ResponseError: (error) => Effect.fail(unreachable(provider, error))
    }),
    Effect.timeoutFail({
      duration: settings.timeout,
      onTimeout: () =>
        new ProviderUnavailable({
          provider,
          reason: "timeout",
          status: null,
          retryAfter: null,
          message: `Provider did not answer within ${Duration.format(settings.timeout)}`
        })
    })
  )
