import { PayloadTooLarge, RequestTimeout, UnsupportedMediaType } from "@clinic/domain"
import {
  HttpApi,
  HttpApiBuilder,
  HttpApiError,
  HttpApiSchema,
  HttpApp,
  HttpMethod,
  HttpServerRequest,
  HttpServerResponse
} from "@effect/platform"
import type { HttpApiGroup } from "@effect/platform"
import { NodeHttpServerRequest } from "@effect/platform-node"
import type { Layer } from "effect"
import { Duration, Effect, Option } from "effect"
import type * as Http from "node:http"
import * as MultipartBody from "./MultipartBody.js"

export interface Options {
  /** The largest body of an endpoint that is not a file upload (JSON, or no body at all). */
  readonly maxJsonBytes: number
  /** How long a client may stop sending a body it has started before it gets a 408. */
  readonly idleTimeout: Duration.DurationInput
}

export const defaults: Options = { maxJsonBytes: 1024 * 1024, idleTimeout: Duration.seconds(30) }

/** JSON deeper than this is refused before any schema sees it (their error paths recurse). */
export const MAX_JSON_DEPTH = 64

/** The failures of the guard, declared by an API that uses it (`addError`). */
export type BodyFailure = PayloadTooLarge | UnsupportedMediaType | RequestTimeout | HttpApiError.HttpApiDecodeError

type BodyKind = "json" | "multipart" | "none"

interface Route {
  readonly method: string
  readonly path: string
  readonly pattern: RegExp
  readonly params: number
  readonly kind: BodyKind
  readonly limits: MultipartBody.Limits
}

/** Every endpoint of `api` by method and path, with what its body is; static paths first. */
const routesOf = (api: HttpApi.HttpApi.Any): ReadonlyArray<Route> => {
  const routes: Array<Route> = []
  HttpApi.reflect(api as HttpApi.HttpApi.AnyWithProps, {
    onGroup: () => {},
    onEndpoint: ({ endpoint, payloads }) => {
      const segments = endpoint.path.split("/")
      const pattern = new RegExp(
        "^" + segments.map((s) => s.startsWith(":") ? "[^/]+" : s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("/") +
          "/?$"
      )
      const multipart = Option.flatMapNullable(
        endpoint.payloadSchema,
        ({ ast }) => HttpApiSchema.getMultipart(ast) ?? HttpApiSchema.getMultipartStream(ast)
      )
      routes.push({
        method: endpoint.method,
        path: endpoint.path,
        pattern,
        params: segments.filter((s) => s.startsWith(":")).length,
        kind: Option.isSome(multipart) ? "multipart" : HttpMethod.hasBody(endpoint.method) && payloads.size > 0
          ? "json"
          : "none",
        limits: Option.getOrElse(multipart, (): MultipartBody.Limits => ({}))
      })
    }
  })
  return routes.sort((a, b) => a.params - b.params)
}

const decodeError = (message: string) => new HttpApiError.HttpApiDecodeError({ issues: [], message })

const tooLarge = (maxBytes: number) =>
  new PayloadTooLarge({ message: `The request body may be at most ${maxBytes} bytes`, maxBytes })

/** The deepest nesting of arrays and objects in `value`, counted without recursion. */
export const depthOf = (value: unknown, limit: number): number => {
  let deepest = 0
  const stack: Array<readonly [unknown, number]> = [[value, 0]]
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!
    if (typeof current !== "object" || current === null) continue
    if (depth + 1 > deepest) deepest = depth + 1
    if (deepest > limit) return deepest
    for (const child of Object.values(current)) stack.push([child, depth + 1])
  }
  return deepest
}

/**
 * Reads the whole body, refusing it past `maxBytes` (what was not read stays unread: the answer
 * closes the connection). The stream is only paused, never destroyed, so the answer still goes out.
 */
const readBody = (source: Http.IncomingMessage, maxBytes: number) =>
  Effect.async<Uint8Array, PayloadTooLarge | HttpApiError.HttpApiDecodeError>((resume) => {
    const chunks: Array<Buffer> = []
    let size = 0
    const cleanup = () => {
      source.off("data", onData)
      source.off("end", onEnd)
      source.off("error", onError)
      source.pause()
    }
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > maxBytes) {
        cleanup()
        return resume(Effect.fail(tooLarge(maxBytes)))
      }
      chunks.push(chunk)
    }
    const onEnd = () => {
      cleanup()
      resume(Effect.succeed(Buffer.concat(chunks, size)))
    }
    const onError = () => {
      cleanup()
      resume(Effect.fail(decodeError("body: the request body could not be read")))
    }
    source.on("data", onData)
    source.on("end", onEnd)
    source.on("error", onError)
    return Effect.sync(cleanup)
  })

/**
 * Fails with a 408 once the client has sent no byte of its unfinished body for `idle`; nothing
 * once the body is complete. Polls the socket's byte count, which leaves the body stream alone.
 */
const idleWatch = (source: Http.IncomingMessage, idle: Duration.Duration) =>
  Effect.gen(function*() {
    const step = Duration.max(Duration.divide(idle, 4).pipe(Option.getOrElse(() => idle)), Duration.millis(10))
    let lastBytes = source.socket?.bytesRead ?? 0
    let quiet = Duration.zero
    while (!source.complete) {
      yield* Effect.sleep(step)
      const bytes = source.socket?.bytesRead ?? 0
      quiet = bytes === lastBytes ? Duration.sum(quiet, step) : Duration.zero
      lastBytes = bytes
      if (Duration.greaterThanOrEqualTo(quiet, idle) && !source.complete) {
        return yield* new RequestTimeout({
          message: `The request body stopped arriving for ${Duration.format(idle)}; the connection is closed`
        })
      }
    }
    return yield* Effect.never
  })

/**
 * `effect` unless the body stops arriving first. Interruptible, though the platform runs a
 * request's middleware uninterruptibly, so that whichever side loses the race really stops.
 */
const orIdle = (source: Http.IncomingMessage, idle: Duration.Duration) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.interruptible(Effect.raceFirst(effect, idleWatch(source, idle)))

const isJson = (contentType: string) => /^application\/json\s*(?:;|$)/i.test(contentType)

/** A request that answers `multipartStream` (or the body reads) from what the guard prepared. */
const withBody = (
  request: HttpServerRequest.HttpServerRequest,
  overrides: Partial<Pick<HttpServerRequest.HttpServerRequest, "multipartStream" | "json" | "text" | "arrayBuffer">>
): HttpServerRequest.HttpServerRequest => {
  const wrapped = Object.create(request) as HttpServerRequest.HttpServerRequest
  for (const [key, value] of Object.entries(overrides)) Object.defineProperty(wrapped, key, { value })
  return wrapped
}

const guard = (routes: ReadonlyArray<Route>, options: Options) => {
  const idle = Duration.decode(options.idleTimeout)
  return (app: HttpApp.Default): HttpApp.Default<BodyFailure> =>
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      if (!HttpMethod.hasBody(request.method)) return yield* app
      const path = new URL(request.url, "http://localhost").pathname
      const route = routes.find((r) => r.method === request.method && r.pattern.test(path))
      if (route === undefined) return yield* app
      // The router names the route on the server span only once the body passed: a refusal here
      // must carry it too (traces, and the request metrics read it).
      yield* Effect.annotateCurrentSpan("http.route", route.path)
      const source = NodeHttpServerRequest.toIncomingMessage(request)
      const declared = request.headers["content-length"]
      const length = declared === undefined ? undefined : Number(declared)
      const hasContent = (length !== undefined && length > 0) || request.headers["transfer-encoding"] !== undefined
      const contentType = (request.headers["content-type"] ?? "").trim()
      // An answer that leaves part of the body unread must close the connection.
      const closing = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
        Effect.tapError(effect, () =>
          HttpApp.appendPreResponseHandler((_request, response) =>
            Effect.succeed(HttpServerResponse.setHeader(response, "connection", "close"))
          ))

      if (route.kind === "multipart") {
        if (!/^multipart\/form-data\s*(;|$)/i.test(contentType)) {
          return yield* closing(Effect.fail(
            new UnsupportedMediaType({ message: "This endpoint takes multipart/form-data" })
          ))
        }
        const boundary = MultipartBody.boundaryOf(contentType)
        if ("problem" in boundary) {
          return yield* closing(Effect.fail(decodeError(`body: ${boundary.problem}`)))
        }
        const parts = MultipartBody.stream(source, source.headers, route.limits)
        return yield* app.pipe(
          Effect.provideService(HttpServerRequest.HttpServerRequest, withBody(request, { multipartStream: parts })),
          orIdle(source, idle),
          closing
        )
      }

      const maxBytes = options.maxJsonBytes
      if (length !== undefined && Number.isFinite(length) && length > maxBytes) {
        return yield* closing(Effect.fail(tooLarge(maxBytes)))
      }
      if (route.kind === "none" || !hasContent) {
        return yield* app
      }
      if (contentType !== "" && !isJson(contentType)) {
        return yield* closing(Effect.fail(
          new UnsupportedMediaType({ message: "This endpoint takes application/json" })
        ))
      }
      // A small body usually comes in the same packet as the headers, and the parser reads it
      // just after handing this request over: past that moment (one yield), a body whose bytes
      // are all buffered cannot stop arriving, and the idle watch (two more fibers, a race and a
      // timer per request) would only wait to be interrupted.
      yield* Effect.yieldNow()
      const arrived = source.complete || (length !== undefined && source.readableLength >= length)
      const bytes = yield* readBody(source, maxBytes).pipe(
        arrived ? Effect.interruptible : orIdle(source, idle),
        closing
      )
      const text = new TextDecoder().decode(bytes)
      const json = yield* Effect.try({
        try: () =>
          (text === "" ? null : JSON.parse(text)) as unknown,
        catch: () =>
          decodeError("body: not valid JSON")
      })
      if (depthOf(json, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
        return yield* Effect.fail(decodeError(`body: nested deeper than ${MAX_JSON_DEPTH} levels`))
      }
      return yield* Effect.provideService(
        app,
        HttpServerRequest.HttpServerRequest,
        withBody(request, {
          json: Effect.succeed(json),
          text: Effect.succeed(text),
          arrayBuffer: Effect.succeed(Uint8Array.from(bytes).buffer)
        })
      )
    })
}

/**
 * What a request body may be, for every endpoint of `api`: at most `maxJsonBytes` unless the
 * endpoint takes a multipart upload (413, read no further), JSON where the endpoint takes JSON
 * (415), nested at most `MAX_JSON_DEPTH` levels (400), a multipart body with a valid boundary
 * (400) that reaches its closing boundary (400), and sent without stopping for `idleTimeout`
 * (408). Every refusal that leaves bytes unread closes the connection. The API must declare
 * `PayloadTooLarge`, `UnsupportedMediaType` and `RequestTimeout` (`addError`).
 */
export const layer = <Id extends string, Groups extends HttpApiGroup.HttpApiGroup.Any, E, R>(
  api: [BodyFailure] extends [E] ? HttpApi.HttpApi<Id, Groups, E, R>
    : "the API must declare PayloadTooLarge, UnsupportedMediaType and RequestTimeout with addError",
  options: Options = defaults
): Layer.Layer<never> =>
  HttpApiBuilder.middleware(
    api as HttpApi.HttpApi<Id, Groups, E, R>,
    // As in ErrorShape: typed by the API's error union, which this generic guard cannot name.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- existential over the API's errors
    guard(routesOf(api as HttpApi.HttpApi.Any), options) as any
  )
