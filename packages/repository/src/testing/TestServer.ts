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
  /** This run's test databases are named `<prefix><worker pid>_<n>`; the teardown drops them all. */
  readonly databasePrefix: string
  /** The migrated template's `schemaFingerprint`. */
  readonly fingerprint: string
}

declare module "vitest" {
  export interface ProvidedContext {
    clinicDatabase: TestDatabaseInfo
  }
}

/**
 * Ports handed out below Linux's ephemeral range (32768-60999). A port taken with `listen(0)` comes
 * from that range, and so does the local port of every outgoing connection: between closing the
 * probe and the child process binding it, one of the run's hundreds of client connections could
 * take it (a CI run failed with EADDRINUSE that way). Below the range only another `listen` can,
 * so each vitest worker gets a block of its own and walks it; the probe skips a port still held.
 * Two vitest runs at once (`pnpm coverage`, Stryker's runners) number their workers alike: each
 * process starts its walk at a random place in the block, so they do not probe in step.
 */
const portBlockSize = 1_500
const firstPort = 20_000
const portBlocks = 8
const portBlock = (Number(process.env.VITEST_POOL_ID ?? process.pid) % portBlocks) * portBlockSize + firstPort
let nextPortOffset = Math.floor(Math.random() * portBlockSize)

const canListen = (port: number) =>
  Effect.async<boolean>((resume) => {
    const server = Net.createServer()
    server.once("error", () => resume(Effect.succeed(false)))
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => server.close(() => resume(Effect.succeed(true))))
  })

/** A port on 127.0.0.1 that nothing listens on, for a server the test starts next. */
export const freePort: Effect.Effect<number> = Effect.gen(function*() {
  for (let attempt = 0; attempt < portBlockSize; attempt++) {
    const port = portBlock + nextPortOffset
    nextPortOffset = (nextPortOffset + 1) % portBlockSize
    if (yield* canListen(port)) return port
  }
  return yield* Effect.dieMessage(`no free port in ${portBlock}-${portBlock + portBlockSize - 1}`)
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

/**
 * What a test could change in a database besides its rows: the public schema's relations, columns,
 * defaults, constraints, indexes, triggers, functions and policies, any other schema, extension or
 * database setting, and the applied migrations. Equal fingerprints, equal schemas.
 */
export const schemaFingerprint = (client: Pg.Client) =>
  Effect.map(
    query(
      client,
      `SELECT md5(string_agg(item, E'\\n' ORDER BY item)) AS fingerprint FROM (
        SELECT format('class %s %s', c.relname, c.relkind) FROM pg_class c
          WHERE c.relnamespace = 'public'::regnamespace
        UNION ALL SELECT format('column %s %s %s %s %s %s', a.attrelid::regclass, a.attname, a.atttypid, a.attnotnull,
            a.attisdropped, pg_get_expr(d.adbin, d.adrelid))
          FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
          LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
          WHERE c.relnamespace = 'public'::regnamespace AND a.attnum > 0
        UNION ALL SELECT format('constraint %s %s %s', conrelid::regclass, conname, pg_get_constraintdef(oid))
          FROM pg_constraint WHERE connamespace = 'public'::regnamespace
        UNION ALL SELECT format('index %s', pg_get_indexdef(i.indexrelid)) FROM pg_index i
          JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relnamespace = 'public'::regnamespace
        UNION ALL SELECT format('trigger %s %s %s', tgrelid::regclass, tgname, tgenabled) FROM pg_trigger
        UNION ALL SELECT format('function %s %s', p.oid::regprocedure, md5(p.prosrc)) FROM pg_proc p
          WHERE p.pronamespace = 'public'::regnamespace
        UNION ALL SELECT format('policy %s %s', polrelid::regclass, polname) FROM pg_policy
        UNION ALL SELECT format('rule %s %s', ev_class::regclass, rulename) FROM pg_rewrite r
          JOIN pg_class c ON c.oid = r.ev_class WHERE c.relnamespace = 'public'::regnamespace
        UNION ALL SELECT format('schema %s', nspname) FROM pg_namespace
        UNION ALL SELECT format('extension %s %s', extname, extversion) FROM pg_extension
        UNION ALL SELECT format('setting %s', array_to_string(setconfig, ',')) FROM pg_db_role_setting
          WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
        UNION ALL SELECT format('migration %s %s', migration_id, name) FROM effect_sql_migrations
      ) AS items (item)`
    ),
    (result) => String(result.rows[0].fingerprint)
  )

export const databaseUrl = (serverUrl: string, database: string): string => {
  const url = new URL(serverUrl)
  url.pathname = `/${database}`
  return url.toString()
}

/**
 * The server the tests use, for the life of the scope: `TEST_DATABASE_URL` when set, otherwise an
 * embedded one in a temporary folder (fsync off, no passwords: it listens on 127.0.0.1 only, for
 * the run, and holds test data), removed afterwards.
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
  const started = yield* EmbeddedPostgres.start({
    dataDir: Path.join(parent, "data"),
    port,
    fsync: false,
    trustLocalConnections: true
  })
  return Redacted.value(started.url)
})
