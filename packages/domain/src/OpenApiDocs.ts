import { OpenApi } from "@effect/platform"
import type { Context } from "effect"

/**
 * An operation's documentation: every operation of both APIs has both (the domain's
 * OpenApiDocs test checks it), as `.annotateContext(docs("Short summary", "What it does, ..."))`.
 */
export const docs = (summary: string, description: string): Context.Context<never> =>
  OpenApi.annotations({ summary, description })

/**
 * The response headers the servers add outside the endpoints' schemas (a middleware, a
 * pre-response handler), which the generated OpenAPI document cannot see: declared once here
 * and referenced from the operations that send them.
 */
const headers = {
  "X-Request-Id": {
    description: "The request's id: the caller's `X-Request-Id` when it is a plain token of at most 128 " +
      "characters (`[A-Za-z0-9._:-]`), otherwise a new UUID. It is on every log line of the request.",
    schema: { type: "string" }
  },
  "RateLimit": {
    description: "Where the caller stands in the rolling window (IETF draft `RateLimit` header fields): " +
      "`limit=<n>, remaining=<n>, reset=<seconds>`.",
    schema: { type: "string", examples: ["limit=10, remaining=7, reset=1800"] }
  },
  "RateLimit-Policy": {
    description: "The limit and its window in seconds: `<limit>;w=<seconds>`.",
    schema: { type: "string", examples: ["10;w=3600"] }
  },
  "Retry-After": {
    description: "Seconds until one more attempt is allowed.",
    schema: { type: "integer", minimum: 0 }
  }
} as const

type HeaderName = keyof typeof headers

type Json = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any -- OpenApi.Transform's own type

const reference = (name: HeaderName) => ({ $ref: `#/components/headers/${name}` })

const addHeaders = (response: Json, names: ReadonlyArray<HeaderName>): Json => ({
  ...response,
  headers: { ...response.headers, ...Object.fromEntries(names.map((name) => [name, reference(name)])) }
})

/**
 * For an API (`.annotateContext(OpenApi.annotations({ transform: withRequestIdHeader }))`): the
 * header definitions, and `X-Request-Id` on every response of every operation.
 */
export const withRequestIdHeader = (spec: Json): Json => {
  const paths: Json = Object.fromEntries(
    Object.entries(spec.paths as Json).map(([path, item]) => [
      path,
      Object.fromEntries(
        Object.entries(item as Json).map(([method, operation]) => [method, {
          ...operation,
          responses: Object.fromEntries(
            Object.entries(operation.responses as Json).map(([status, response]) => [
              status,
              addHeaders(response, ["X-Request-Id"])
            ])
          )
        }])
      )
    ])
  )
  // Only the definitions this API's operations refer to (an API without rate limits has no use for them).
  const used = (Object.keys(headers) as Array<HeaderName>).filter((name) =>
    JSON.stringify(paths).includes(`"#/components/headers/${name}"`)
  )
  return {
    ...spec,
    components: {
      ...spec.components,
      headers: { ...spec.components?.headers, ...Object.fromEntries(used.map((name) => [name, headers[name]])) }
    },
    paths
  }
}

/**
 * For a rate-limited endpoint: `RateLimit` and `RateLimit-Policy` on its success and on its 429,
 * `Retry-After` on the 429 too.
 */
export const rateLimitHeaders: Context.Context<never> = OpenApi.annotations({
  transform: (operation) => ({
    ...operation,
    responses: Object.fromEntries(
      Object.entries(operation.responses as Json).map(([status, response]) => [
        status,
        status === "429"
          ? addHeaders(response, ["RateLimit", "RateLimit-Policy", "Retry-After"])
          : status.startsWith("2")
          ? addHeaders(response, ["RateLimit", "RateLimit-Policy"])
          : response
      ])
    )
  })
})
