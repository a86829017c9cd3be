import * as Http from "node:http"

const held = new WeakMap<Http.Server, Array<readonly [Http.IncomingMessage, Http.ServerResponse]>>()

/**
 * A `node:http` server that holds the requests arriving before the app's handler is attached.
 *
 * `NodeHttpServer.layer` listens while the layer is built, but the handler is attached only when
 * `HttpApiBuilder.serve` runs, after the rest of the layer graph. A request that arrives in that
 * gap has no `request` listener and would never be answered (seen as a health probe that hangs,
 * which then also blocks shutdown). Held requests are handed to the first handler attached.
 */
export const createHoldingServer = (): Http.Server => {
  const server = Http.createServer()
  const queue: Array<readonly [Http.IncomingMessage, Http.ServerResponse]> = []
  held.set(server, queue)
  const hold = (request: Http.IncomingMessage, response: Http.ServerResponse) => {
    queue.push([request, response])
  }
  server.on("request", hold)
  const onNewListener = (event: string | symbol, listener: (...args: Array<unknown>) => void) => {
    if (event !== "request" || listener === hold) return
    server.off("request", hold)
    server.off("newListener", onNewListener)
    // `newListener` fires before the listener is added: replay once it is in place.
    queueMicrotask(() => {
      for (const [request, response] of queue.splice(0)) listener(request, response)
    })
  }
  server.on("newListener", onNewListener)
  return server
}

/** How many requests the server is holding for a handler (0 once one is attached). */
export const heldRequests = (server: Http.Server): number => held.get(server)?.length ?? 0
