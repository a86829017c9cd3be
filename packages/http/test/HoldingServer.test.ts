import { assert, describe, it } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import type * as Http from "node:http"
import type * as Net from "node:net"
import { createHoldingServer, heldRequests } from "../src/HoldingServer.js"

const listening = Effect.acquireRelease(
  Effect.async<Http.Server>((resume) => {
    const server = createHoldingServer()
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
  }),
  (server) =>
    Effect.async<void>((resume) => {
      server.close(() => resume(Effect.void))
    })
)

// Real sockets, so real time: poll with a deadline instead of sleeping.
const eventually = (condition: () => boolean) =>
  Effect.suspend(() => (condition() ? Effect.void : Effect.fail("not yet"))).pipe(
    Effect.retry(Schedule.spaced("10 millis").pipe(Schedule.upTo("5 seconds")))
  )

describe("createHoldingServer", () => {
  it.live("answers, through the handler attached later, a request that arrived before it", () =>
    Effect.gen(function*() {
      const server = yield* listening
      const { port } = server.address() as Net.AddressInfo
      const early = Effect.runPromise(Effect.promise(() => fetch(`http://127.0.0.1:${port}/health`)))
      yield* eventually(() => heldRequests(server) === 1)

      server.on("request", (request, response) => response.end(`handled ${request.url}`))
      const response = yield* Effect.promise(() => early)
      assert.strictEqual(yield* Effect.promise(() => response.text()), "handled /health")
      assert.strictEqual(heldRequests(server), 0)

      const later = yield* Effect.promise(() => fetch(`http://127.0.0.1:${port}/later`).then((r) => r.text()))
      assert.strictEqual(later, "handled /later")
    }).pipe(Effect.scoped))
})
