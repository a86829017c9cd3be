import { Effect, ExecutionStrategy, Exit, Redacted, Ref, Scope } from "effect"
import * as Fs from "node:fs/promises"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Database from "../Database.js"
import * as EmbeddedPostgres from "../EmbeddedPostgres.js"
import * as Migrations from "../Migrations.js"
import { freePort } from "./TestServer.js"

/** A migrated embedded Postgres of the test's own that the test stops and starts again. */
export interface RestartablePostgres {
  /** Its URL; the same across restarts (same folder, port and password). */
  readonly url: Redacted.Redacted
  readonly port: number
  /** Stops the server (fast shutdown: open connections are terminated, new ones refused). */
  readonly stop: Effect.Effect<void>
  /** Starts it again on the same data. */
  readonly start: Effect.Effect<void>
}

/**
 * An embedded Postgres in a temporary folder for the life of the scope, migrated, that the test
 * can stop and restart: what a database outage looks like to the apps.
 */
export const restartablePostgres = Effect.gen(function*() {
  const parent = yield* Effect.acquireRelease(
    Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "clinic-outage-pg-"))),
    (dir) => Effect.promise(() => Fs.rm(dir, { recursive: true, force: true }))
  )
  // mkdtemp makes the folder private to root; the server runs as `postgres` and must reach it.
  yield* Effect.promise(() => Fs.chmod(parent, 0o755))
  const port = yield* freePort
  const outer = yield* Effect.scope
  const running = yield* Ref.make<Scope.CloseableScope | undefined>(undefined)
  const stop = Effect.gen(function*() {
    const scope = yield* Ref.getAndSet(running, undefined)
    if (scope !== undefined) yield* Scope.close(scope, Exit.void)
  })
  const start = Effect.gen(function*() {
    const scope = yield* Scope.fork(outer, ExecutionStrategy.sequential)
    yield* EmbeddedPostgres.start({ dataDir: Path.join(parent, "data"), port, fsync: false }).pipe(
      Scope.extend(scope),
      Effect.orDie
    )
    yield* Ref.set(running, scope)
  })
  yield* start
  yield* Effect.addFinalizer(() => stop)
  const url = Redacted.make(`postgres://postgres:postgres@127.0.0.1:${port}/postgres`)
  yield* Migrations.run.pipe(Effect.provide(Database.clientLayer(url, { maxConnections: 2 })), Effect.orDie)
  return { url, port, stop, start } satisfies RestartablePostgres
})

/** A TCP proxy in front of a server that the test can freeze: connections accepted, nothing answered. */
export interface FreezableProxy {
  readonly port: number
  /** From now on nothing is forwarded either way, on open connections or new ones. */
  readonly freeze: Effect.Effect<void>
  /** Forwards again, what was held back included. */
  readonly thaw: Effect.Effect<void>
}

/**
 * A proxy on 127.0.0.1 to `target`, for the life of the scope. Frozen, it is a database that
 * accepts connections and answers nothing: the kernel completes the handshake, no byte comes back.
 */
export const freezableProxy = (target: number) =>
  Effect.gen(function*() {
    let frozen = false
    // Bytes held back while frozen, written on thaw in order.
    const held: Array<readonly [Net.Socket, Buffer]> = []
    const sockets = new Set<Net.Socket>()
    const waiting = new Set<Net.Socket>()
    const forward = (from: Net.Socket, to: Net.Socket) =>
      from.on("data", (chunk: Buffer) => {
        if (frozen) held.push([to, chunk])
        else to.write(chunk)
      })
    const connectUpstream = (client: Net.Socket) => {
      const upstream = Net.connect(target, "127.0.0.1")
      sockets.add(upstream)
      forward(client, upstream)
      forward(upstream, client)
      const end = () => {
        sockets.delete(client)
        sockets.delete(upstream)
        client.destroy()
        upstream.destroy()
      }
      client.on("error", end).on("close", end)
      upstream.on("error", end).on("close", end)
    }
    const server = Net.createServer((client) => {
      sockets.add(client)
      if (!frozen) return connectUpstream(client)
      // Accepted, and then nothing: no upstream connection until the thaw.
      client.pause()
      waiting.add(client)
      client.on("error", () => waiting.delete(client))
    })
    const port = yield* Effect.acquireRelease(
      Effect.async<number>((resume) => {
        server.listen(0, "127.0.0.1", () => resume(Effect.succeed((server.address() as Net.AddressInfo).port)))
      }),
      () =>
        Effect.async<void>((resume) => {
          for (const socket of sockets) socket.destroy()
          server.close(() => resume(Effect.void))
        })
    )
    return {
      port,
      freeze: Effect.sync(() => {
        frozen = true
      }),
      thaw: Effect.sync(() => {
        frozen = false
        for (const [to, chunk] of held.splice(0)) if (!to.destroyed) to.write(chunk)
        for (const client of [...waiting]) {
          waiting.delete(client)
          if (client.destroyed) continue
          connectUpstream(client)
          client.resume()
        }
      })
    } satisfies FreezableProxy
  })

/** `url` with its port replaced (a URL through a `FreezableProxy`). */
export const throughPort = (url: Redacted.Redacted, port: number): Redacted.Redacted => {
  const parsed = new URL(Redacted.value(url))
  parsed.port = String(port)
  return Redacted.make(parsed.toString())
}
