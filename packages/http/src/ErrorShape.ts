import { InternalError, RouteNotFound, ServiceUnavailable } from "@clinic/domain"
import { OutageLog, Sql } from "@clinic/foundation"
import {
  HttpApiBuilder,
  HttpApiError,
  HttpApp,
  HttpMiddleware,
  HttpServerError,
  HttpServerRequest,
  HttpServerResponse
} from "@effect/platform"
import type { HttpApi, HttpApiGroup } from "@effect/platform"
import { Statement } from "@effect/sql"
import type { Layer } from "effect"
import { Cause, Clock, Context, Effect, FiberRef, HashMap, Option } from "effect"
import * as Metrics from "./Metrics.js"
import * as SecurityHeaders from "./SecurityHeaders.js"

const REQUEST_ID_HEADER = "x-request-id"
// A caller's id is echoed into logs and headers, so only a plain token of sane length is trusted.
const ACCEPTED_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

const currentRequestId = Effect.map(
  FiberRef.get(FiberRef.currentLogAnnotations),
  (annotations) => Option.getOrUndefined(HashMap.get(annotations, "requestId")) as string | undefined
)

const internalError = (cause: Cause.Cause<unknown>) =>
  Effect.gen(function*() {
    yield* Effect.logError("request failed unexpectedly", cause)
    const requestId = yield* currentRequestId
    return new InternalError({
      message: "The server failed to handle this request; it has been logged",
      ...(requestId === undefined ? {} : { requestId })
    })
  })

/** Seconds a client is asked to wait (`Retry-After`) when the database is unreachable. */
export const RETRY_AFTER_SECONDS = 5

const withRetryAfter = HttpApp.appendPreResponseHandler((_request, response) =>
  Effect.succeed(HttpServerResponse.setHeader(response, "retry-after", String(RETRY_AFTER_SECONDS)))
)

/** A connection-class `SqlError` anywhere in the cause: repositories turn `SqlError` into defects. */
const connectionFailure = (cause: Cause.Cause<unknown>): unknown => {
  for (const error of Cause.failures(cause)) if (Sql.isConnectionFailure(error)) return error
  for (const defect of Cause.defects(cause)) if (Sql.isConnectionFailure(defect)) return defect
  return undefined
}

const serviceUnavailable = (outage: OutageLog.OutageLog, error: unknown) =>
  Effect.gen(function*() {
    yield* outage.failed(String((error as { cause?: unknown }).cause ?? error))
    yield* withRetryAfter
    return yield* new ServiceUnavailable({
      message: "The database is unreachable for now; retry later",
      retryAfter: RETRY_AFTER_SECONDS
    })
  })

/** The longest excerpt of a submitted value (or key) that an error message repeats. */
export const MAX_ECHO = 80

/** `text` cut to `max` characters, marked as cut. */
export const excerpt = (text: string, max = MAX_ECHO): string => text.length <= max ? text : `${text.slice(0, max)}…`

const issuePath = (path: ReadonlyArray<PropertyKey>) =>
  path.map((key) => excerpt(String(key), 40)).join(".") || "request"

type Issues = HttpApiError.HttpApiDecodeError["issues"]
type Issue = Issues[number]

/**
 * An optional or nullable field is `X | undefined` or `X | null` to the schema, so a bad value
 * also reports "Expected undefined" or "Expected null": noise beside the real problem with the
 * same field, dropped.
 */
const isAlternativeNoise = (issue: Issue) => /^Expected (undefined|null)\b/.test(issue.message)

/**
 * A schema's message quotes the value it was given (`actual "..."`), which may be megabytes of
 * the client's own input: each quote is cut to an excerpt, as are long paths and messages.
 */
const bounded = (issue: Issue): Issue => ({
  ...issue,
  path: issue.path.map((key) => typeof key === "string" ? excerpt(key, 40) : key),
  message: excerpt(issue.message.replace(/actual (.*)$/s, (_, actual: string) => `actual ${excerpt(actual)}`), 300)
})

const relevantIssues = (issues: Issues): Issues => {
  const kept = issues.filter((issue) =>
    !(isAlternativeNoise(issue) &&
      issues.some((other) =>
        other !== issue && !isAlternativeNoise(other) && issuePath(other.path) === issuePath(issue.path)
      ))
  )
  // Dozens of issues say nothing more than the first few.
  return kept.slice(0, 10).map(bounded)
}

/** `field: problem; other.field: problem`, one flat line the client can show. */
export const describeIssues = (issues: Issues): string =>
  issues.length === 0 ? "The request is invalid" : issues.map((i) => `${issuePath(i.path)}: ${i.message}`).join("; ")

/** The failures this middleware answers with; an API using it declares them (`addError`). */
export type ShapedFailure = HttpApiError.HttpApiDecodeError | InternalError | RouteNotFound | ServiceUnavailable

/**
 * Under an outage every request fails alike: the operator reads one warning with the cause when
 * the first fails and one info when a request that used the database succeeds again (the access
 * log still has each 503). Which requests used the database: a statement transformer notes when
 * the request's last statement started, so a request that needs no database (`/health`, the
 * OpenAPI document) never passes for a recovery, nor does one whose query began before the outage.
 */
const outageLog = OutageLog.make({
  failing: "database unreachable; answering 503 ServiceUnavailable",
  recovered: "database reachable again; recovered"
})

const shape = (outage: OutageLog.OutageLog) => (app: HttpApp.Default): HttpApp.Default<ShapedFailure> =>
  Effect.suspend(() => {
    let lastStatementAt: number | undefined
    const noted = Statement.withTransformer(app, (statement) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        lastStatementAt = Math.max(lastStatementAt ?? now, now)
        return statement
      }))
    return Effect.tap(
      noted,
      (response) =>
        response.status < 500 && lastStatementAt !== undefined ? outage.succeeded(lastStatementAt) : Effect.void
    )
  }).pipe(Effect.catchAllCause((cause): Effect.Effect<never, ShapedFailure> => {
    if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause)
    const failure = Cause.failureOption(cause)
    const failed: unknown = Option.getOrUndefined(failure)
    if (failed instanceof ServiceUnavailable) {
      return Effect.zipRight(withRetryAfter, Effect.failCause(cause))
    }
    const unreachable = connectionFailure(cause)
    if (unreachable !== undefined) return serviceUnavailable(outage, unreachable)
    // The platform reports an unreadable body as a defect, so server errors are looked for in both.
    const error: unknown = Option.isSome(failure) ? failure.value : Option.getOrUndefined(Cause.dieOption(cause))
    if (error instanceof HttpApiError.HttpApiDecodeError) {
      if (error.issues.length === 0) return Effect.fail(error)
      const issues = relevantIssues(error.issues)
      return Effect.fail(new HttpApiError.HttpApiDecodeError({ issues, message: describeIssues(issues) }))
    }
    if (HttpServerError.isServerError(error) && error._tag === "RouteNotFound") {
      const url = new URL(error.request.url, "http://localhost")
      return Effect.fail(
        new RouteNotFound({
          message: `No endpoint for ${error.request.method} ${url.pathname}`,
          method: error.request.method,
          path: url.pathname
        })
      )
    }
    if (HttpServerError.isServerError(error) && error._tag === "RequestError" && error.reason === "Decode") {
      return Effect.fail(
        new HttpApiError.HttpApiDecodeError({ issues: [], message: "body: not valid JSON for this endpoint" })
      )
    }
    if (Option.isNone(failure) || HttpServerError.isServerError(error)) {
      return Effect.flatMap(internalError(cause), Effect.fail)
    }
    // A typed error of an endpoint: the builder encodes it with its declared status.
    return Effect.failCause(cause)
  }))

/**
 * Gives every failure of `api` the one error shape `{ _tag, message, ... }`: decode errors name
 * their fields, unknown routes are a JSON 404 `RouteNotFound`, an unreadable body is a 400, and
 * defects become a sanitized 500 `InternalError` (with the request id) whose cause (stack, SQL)
 * only reaches the log. The API must declare `InternalError` and `RouteNotFound` (`addError`), so
 * that the builder encodes them and the OpenAPI document lists them.
 */
export const layer = <Id extends string, Groups extends HttpApiGroup.HttpApiGroup.Any, E, R>(
  api: [ShapedFailure] extends [E] ? HttpApi.HttpApi<Id, Groups, E, R>
    : "the API must declare InternalError, RouteNotFound and ServiceUnavailable with addError"
): Layer.Layer<never> =>
  // The builder types a middleware by the API's own error union, which `shape` (written once for
  // every API) cannot name; the conditional type above is the check that matters.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- existential over the API's errors
  HttpApiBuilder.middleware(api as HttpApi.HttpApi<Id, Groups, E, R>, Effect.map(outageLog, shape) as any)

/**
 * What `HttpApiBuilder.serve` wraps every request in: the caller's `X-Request-Id` (or a new one)
 * on every log line of the request, the access log line included, and echoed with the security
 * headers (`SecurityHeaders`) through one pre-response handler (by the time a middleware gets the
 * response back, the server has already sent it); outermost the request metrics
 * (`Metrics.recordRequests`), which time all of it.
 */
export const serviceMiddleware = <E, R>(app: Parameters<typeof HttpMiddleware.logger<E, R>>[0]) => {
  const logged = HttpMiddleware.logger(app)
  return Metrics.recordRequests(Effect.withFiberRuntime<
    HttpServerResponse.HttpServerResponse,
    E,
    R | HttpServerRequest.HttpServerRequest
  >((fiber) => {
    const request = Context.unsafeGet(fiber.currentContext, HttpServerRequest.HttpServerRequest)
    const given = request.headers[REQUEST_ID_HEADER]
    const requestId = given !== undefined && ACCEPTED_REQUEST_ID.test(given) ? given : crypto.randomUUID()
    const headers = { [REQUEST_ID_HEADER]: requestId, ...SecurityHeaders.headersFor(request.url) }
    return Effect.zipRight(
      HttpApp.appendPreResponseHandler((_request, response) =>
        Effect.succeed(HttpServerResponse.setHeaders(response, headers))
      ),
      Effect.annotateLogs(logged, "requestId", requestId)
    )
  }))
}
