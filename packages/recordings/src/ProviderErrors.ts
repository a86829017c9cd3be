import { Schema } from "effect"

export const ProviderName = Schema.Literal("transcriber", "note-extractor")
export type ProviderName = typeof ProviderName.Type

/**
 * The provider could not answer now (5xx, 429, 408, a timeout, a dropped connection): the same
 * request may well succeed later, so the pipeline retries it with backoff. `retryAfter` (seconds)
 * is the provider's own hint when it sent one.
 */
export class ProviderUnavailable extends Schema.TaggedError<ProviderUnavailable>()("ProviderUnavailable", {
  provider: ProviderName,
  reason: Schema.Literal("server-error", "rate-limited", "timeout", "network"),
  status: Schema.NullOr(Schema.Number),
  retryAfter: Schema.NullOr(Schema.Number),
  message: Schema.String
}) {
  get retryable(): true {
    return true
  }
}

/**
 * The provider refused the request (another 4xx) or answered with something we cannot use
 * (malformed JSON, output that breaks the schema, a refusal): retrying the same input would bill
 * again for the same outcome, so the recording fails with this message.
 */
export class ProviderRejected extends Schema.TaggedError<ProviderRejected>()("ProviderRejected", {
  provider: ProviderName,
  reason: Schema.Literal("client-error", "malformed", "refused"),
  status: Schema.NullOr(Schema.Number),
  message: Schema.String
}) {
  get retryable(): false {
    return false
  }
}

/** No provider is configured: work waits (no attempt is spent) until one is. */
export class ProviderNotConfigured extends Schema.TaggedError<ProviderNotConfigured>()("ProviderNotConfigured", {
  provider: ProviderName,
  message: Schema.String
}) {
  get retryable(): false {
    return false
  }
}

export type ProviderError = ProviderUnavailable | ProviderRejected | ProviderNotConfigured

export const isRetryable = (error: ProviderError): boolean => error.retryable

/** What a provider service reports about itself, for status pages and the recording's detail. */
export type ProviderStatus =
  | { readonly _tag: "Configured"; readonly baseUrl: string; readonly model: string }
  | { readonly _tag: "NotConfigured"; readonly reason: string }
