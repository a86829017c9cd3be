import { Deferred, Effect } from "effect"
import * as Http from "node:http"
import type * as Net from "node:net"

/** What the test server answers for a path: a body with a status, or nothing ever. */
export type Route =
  | { readonly _tag: "Body"; readonly status: number; readonly body: string; readonly headers?: Record<string, string> }
  | { readonly _tag: "Hang" }

export interface IcsServer {
  readonly url: (path: string) => string
  readonly set: (path: string, route: Route) => void
  /** Resolved when a request for a hanging route has arrived. */
  readonly hanging: Deferred.Deferred<void>
  readonly requests: () => number
}

export const ics = (body: string, status = 200): Route => ({
  _tag: "Body",
  status,
  body,
  headers: { "content-type": "text/calendar" }
})

/** A real HTTP server on 127.0.0.1 and a random port, closed with the scope. */
export const IcsServer = Effect.gen(function*() {
  const routes = new Map<string, Route>()
  const hanging = yield* Deferred.make<void>()
  const open = new Set<Http.ServerResponse>()
  let requests = 0
  const server = Http.createServer((request, response) => {
    requests++
    const route = routes.get(request.url ?? "") ?? ({ _tag: "Body", status: 404, body: "not found" } as const)
    if (route._tag === "Hang") {
      open.add(response)
      Deferred.unsafeDone(hanging, Effect.void)
      return
    }
    response.writeHead(route.status, route.headers ?? {})
    response.end(route.body)
  })
  const port = yield* Effect.acquireRelease(
    Effect.async<number>((resume) => {
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed((server.address() as Net.AddressInfo).port)))
    }),
    () =>
      Effect.async<void>((resume) => {
        for (const response of open) response.destroy()
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    set: (path, route) => void routes.set(path, route),
    hanging,
    requests: () => requests
  } satisfies IcsServer
})
