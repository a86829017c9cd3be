import { Effect, Redacted } from "effect"
import * as Fs from "node:fs/promises"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import Pg from "pg"
import * as EmbeddedPostgres from "../EmbeddedPostgres.js"

/** What `globalSetup` hands each test file: where the server is and which template to clone. */
export interface TestDatabaseInfo {
  readonly adminUrl: string
  readonly template: string
}

declare module "vitest" {
  export interface ProvidedContext {
    clinicDatabase: TestDatabaseInfo
  }
}

export const freePort = Effect.async<number>((resume) => {
  const server = Net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as Net.AddressInfo
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** Runs `f` with a `pg` client on `url`, closing it whatever happens. */
export const withClient = <A, E, R>(url: string, f: (client: Pg.Client) => Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.promise(async () => {
      const client = new Pg.Client({ connectionString: url })
      await client.connect()
      return client
    }),
    f,
    (client) => Effect.promise(() => client.end().catch(() => undefined))
  )

export const query = (client: Pg.Client, text: string) => Effect.promise(() => client.query(text))

export const databaseUrl = (serverUrl: string, database: string): string => {
  const url = new URL(serverUrl)
  url.pathname = `/${database}`
  return url.toString()
}

/**
 * The server the tests use, for the life of the scope: `TEST_DATABASE_URL` when set, otherwise an
 * embedded one in a temporary folder (fsync off), removed afterwards.
 */
export const server = Effect.gen(function*() {
  const configured = process.env.TEST_DATABASE_URL
  if (configured) return configured
  const parent = yield* Effect.acquireRelease(
    Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "clinic-test-pg-"))),
    (dir) => Effect.promise(() => Fs.rm(dir, { recursive: true, force: true }))
  )
  // mkdtemp makes the folder private to root; the server runs as `postgres` and must reach it.
  yield* Effect.promise(() => Fs.chmod(parent, 0o755))
  const port = yield* freePort
  const started = yield* EmbeddedPostgres.start({ dataDir: Path.join(parent, "data"), port, fsync: false })
  return Redacted.value(started.url)
})
