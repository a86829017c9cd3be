import { Deferred, Effect, Exit, Ref } from "effect"
import * as Http from "node:http"
import type * as Net from "node:net"

/** A request the fake server received. */
export interface Received {
  readonly method: string
  readonly url: string
  readonly headers: Http.IncomingHttpHeaders
  readonly body: Buffer
}

/** How the fake answers one request: a response, or never answering, or cutting the connection. */
export type Reply =
  | {
    readonly _tag: "Respond"
    readonly status: number
    readonly body: string
    readonly headers?: Record<string, string>
  }
  | { readonly _tag: "Hang" }
  | { readonly _tag: "Drop" }

export const json = (status: number, value: unknown, headers: Record<string, string> = {}): Reply => ({
  _tag: "Respond",
  status,
  body: JSON.stringify(value),
  headers: { "content-type": "application/json", ...headers }
})
export const text = (status: number, body: string): Reply => ({
  _tag: "Respond",
  status,
  body,
  headers: { "content-type": "text/plain" }
})
export const hang: Reply = { _tag: "Hang" }
export const drop: Reply = { _tag: "Drop" }

/**
 * A local server that answers like the OpenAI API: each request gets the next of `replies` (the
 * last one repeats). Bound to 127.0.0.1 on a random port for the scope of the test.
 */
export const make = (replies: ReadonlyArray<Reply>) =>
  Effect.gen(function*() {
    const received = yield* Ref.make<ReadonlyArray<Received>>([])
    const firstRequest = yield* Deferred.make<void>()
    let count = 0
    const server = Http.createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (chunk: Buffer) => chunks.push(chunk))
      req.on("end", () => {
        const request: Received = {
          method: req.method ?? "",
          url: req.url ?? "",
          headers: req.headers,
          body: Buffer.concat(chunks)
        }
        Effect.runSync(Ref.update(received, (all) => [...all, request]))
        Deferred.unsafeDone(firstRequest, Exit.void)
        const reply = replies[Math.min(count++, replies.length - 1)]
        switch (reply._tag) {
          case "Respond":
            res.writeHead(reply.status, reply.headers ?? {})
            res.end(reply.body)
            return
          case "Drop":
            req.socket.destroy()
            return
          case "Hang":
            return
        }
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
    const { port } = server.address() as Net.AddressInfo
    return {
      baseUrl: `http://127.0.0.1:${port}`,
      received: Ref.get(received),
      /** Completes once a request has fully arrived: the client is now waiting for the answer. */
      firstRequest: Deferred.await(firstRequest)
    }
  })

/** A base URL where nothing listens (a port that was just free). */
export const closedBaseUrl = Effect.async<string>((resume) => {
  const server = Http.createServer()
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as Net.AddressInfo
    server.close(() => resume(Effect.succeed(`http://127.0.0.1:${port}`)))
  })
})
