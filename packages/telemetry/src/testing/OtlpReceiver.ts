import { Effect } from "effect"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"

/** One span as an OTLP/HTTP JSON export carries it, with its resource's attributes. */
export interface ReceivedSpan {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string | undefined
  readonly name: string
  readonly attributes: Readonly<Record<string, unknown>>
  readonly resource: Readonly<Record<string, unknown>>
}

export interface ReceivedRequest {
  readonly path: string
  readonly contentType: string
  readonly headers: Http.IncomingHttpHeaders
  readonly bytes: number
}

interface KeyValue {
  readonly key: string
  readonly value: Readonly<Record<string, unknown>>
}

const attributes = (list: ReadonlyArray<KeyValue> | undefined): Record<string, unknown> =>
  Object.fromEntries((list ?? []).map(({ key, value }) => [key, Object.values(value)[0]]))

interface TraceData {
  readonly resourceSpans: ReadonlyArray<{
    readonly resource: { readonly attributes: ReadonlyArray<KeyValue> }
    readonly scopeSpans: ReadonlyArray<{
      readonly spans: ReadonlyArray<{
        readonly traceId: string
        readonly spanId: string
        readonly parentSpanId?: string
        readonly name: string
        readonly attributes: ReadonlyArray<KeyValue>
      }>
    }>
  }>
}

/**
 * An OTLP/HTTP receiver on a free local port, for tests: it answers every POST with 200 and keeps
 * what came (JSON trace exports decoded into spans; any body counted as a request). Closed with
 * the scope.
 */
export const make = Effect.gen(function*() {
  const spans: Array<ReceivedSpan> = []
  const requests: Array<ReceivedRequest> = []
  const server = Http.createServer((request, response) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => {
      const body = Buffer.concat(chunks)
      const contentType = request.headers["content-type"] ?? ""
      requests.push({ path: request.url ?? "", contentType, headers: request.headers, bytes: body.length })
      if (contentType.startsWith("application/json")) {
        const data = JSON.parse(body.toString("utf8")) as TraceData
        for (const resourceSpan of data.resourceSpans) {
          const resource = attributes(resourceSpan.resource.attributes)
          for (const scopeSpan of resourceSpan.scopeSpans) {
            for (const span of scopeSpan.spans) {
              spans.push({
                traceId: span.traceId,
                spanId: span.spanId,
                parentSpanId: span.parentSpanId === undefined || span.parentSpanId === ""
                  ? undefined
                  : span.parentSpanId,
                name: span.name,
                attributes: attributes(span.attributes),
                resource
              })
            }
          }
        }
      }
      response.writeHead(200, { "content-type": "application/json" }).end("{}")
    })
  })
  yield* Effect.acquireRelease(
    Effect.async<void>((resume) => {
      server.listen(0, "127.0.0.1", () => resume(Effect.void))
    }),
    () =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )
  const { port } = server.address() as AddressInfo
  return {
    /** The base URL, as `OTEL_EXPORTER_OTLP_ENDPOINT` takes it. */
    endpoint: `http://127.0.0.1:${port}`,
    spans: Effect.sync((): ReadonlyArray<ReceivedSpan> => [...spans]),
    requests: Effect.sync((): ReadonlyArray<ReceivedRequest> => [...requests])
  }
})

/** Polls in real time until `check` returns a value (exports arrive on the exporter's own schedule). */
export const eventually = <A, E, R>(
  check: Effect.Effect<A | undefined, E, R>,
  timeoutMs = 15_000
): Effect.Effect<A, E, R> =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeoutMs
    while (true) {
      const found = yield* check
      if (found !== undefined) return found
      if (Date.now() > deadline) return yield* Effect.dieMessage("spans not received in time")
      yield* Effect.sleep("20 millis")
    }
  })

/** The chain of spans from `span` up to its trace's root, as far as they were received. */
export const ancestry = (spans: ReadonlyArray<ReceivedSpan>, span: ReceivedSpan): ReadonlyArray<ReceivedSpan> => {
  const byId = new Map(spans.map((s) => [s.spanId, s]))
  const chain = [span]
  let at = span
  while (at.parentSpanId !== undefined) {
    const parent = byId.get(at.parentSpanId)
    if (parent === undefined) break
    chain.push(parent)
    at = parent
  }
  return chain
}
