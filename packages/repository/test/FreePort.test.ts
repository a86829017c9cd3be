import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Net from "node:net"
import { freePort } from "../src/testing/TestServer.js"

const listenOn = (port: number) =>
  Effect.acquireRelease(
    Effect.async<Net.Server>((resume) => {
      const server = Net.createServer()
      server.once("error", (error) => resume(Effect.die(error)))
      server.listen(port, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
  )

describe("freePort", () => {
  it.scopedLive("hands out ports below the ephemeral range, each listenable, skipping one a server holds", () =>
    Effect.gen(function*() {
      const first = yield* freePort
      // Outgoing connections take their local port from 32768-60999 on Linux: none can race us here.
      assert.isBelow(first, 32_768)
      assert.isAtLeast(first, 20_000)
      // Ports are handed out in order, so the next one is first + 1 unless it is taken.
      const held = first + 1
      yield* listenOn(held)
      const next = yield* freePort
      assert.notStrictEqual(next, held)
      assert.notStrictEqual(next, first)
      yield* listenOn(next)
    }))
})
