import { PgClient } from "@effect/sql-pg"
import { Context, Effect, Layer, Redacted, String } from "effect"
import Pg from "pg"
import { inject } from "vitest"
import * as Database from "../Database.js"
import type { TestDatabaseInfo } from "./TestServer.js"
import { databaseUrl, query, schemaFingerprint, withClient } from "./TestServer.js"

let counter = 0

/**
 * Databases this worker cloned that no test holds now, each reset to the template's state. Cloning
 * costs a quarter of a second (Postgres copies some 600 files); a reset, a few milliseconds.
 */
const idle: Array<string> = []

const nextName = (info: TestDatabaseInfo) => `${info.databasePrefix}${process.pid}_${counter++}`

/**
 * The worker's connection to the server's `postgres` database, for clones, renames and drops: one
 * for the worker's life instead of one each (a connection costs the server a process start). A
 * statement that fails on it is sent once more on a new one, since the server may have closed it
 * while it sat idle. It does not keep the worker alive.
 */
let adminConnection: Promise<Pg.Client> | undefined

/** The admin connection's `application_name`: the test that cuts it finds it by this. */
export const adminApplicationName = `clinic-test-admin-${process.pid}`

const connectAdmin = (url: string): Promise<Pg.Client> => {
  const client = new Pg.Client({ connectionString: url, application_name: adminApplicationName })
  const connecting = client.connect().then(() => {
    ;(client as unknown as { connection: { stream: { unref(): void } } }).connection.stream.unref()
    return client
  })
  client.on("error", () => {
    if (adminConnection === connecting) adminConnection = undefined
  })
  return connecting
}

const admin = (info: TestDatabaseInfo, text: string) =>
  Effect.suspend(() => {
    const connection = adminConnection ??= connectAdmin(info.adminUrl)
    return Effect.tryPromise(() => connection.then((client) => client.query(text))).pipe(
      Effect.tapError(() =>
        Effect.sync(() => {
          if (adminConnection === connection) adminConnection = undefined
        })
      )
    )
  }).pipe(Effect.retry({ times: 1 }), Effect.orDie)

const drop = (info: TestDatabaseInfo, name: string) => admin(info, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)

/**
 * Empties every table but the migrations' record and restarts the sequences, in one transaction.
 * A `DELETE` of a test's few rows, with foreign-key triggers off (`session_replication_role`), works
 * in place; a `TRUNCATE` gives each table and index a new file, and those files were most of the
 * test server's CPU in a run (about 65 ms a release, mostly system time).
 */
const emptyTables = `DO $$
  DECLARE name text;
  BEGIN
    SET LOCAL session_replication_role = replica;
    FOR name IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'effect_sql_migrations' LOOP
      EXECUTE format('DELETE FROM %I', name);
    END LOOP;
    PERFORM setval(format('%I.%I', schemaname, sequencename)::regclass, start_value, false)
      FROM pg_sequences WHERE schemaname = 'public' AND last_value IS NOT NULL;
  END $$`

/**
 * Hands a released database back for the next test: first renamed to a name no test was given, so
 * that nothing a test left running (a pool reconnecting, a child process) can reach it any more,
 * then emptied. One whose schema the test changed (a trigger of its own, say), or that cannot be
 * hidden or emptied, is dropped instead.
 */
const recycle = (info: TestDatabaseInfo, name: string) => {
  const hidden = nextName(info)
  return Effect.gen(function*() {
    yield* admin(info, `SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = '${name}'`)
    yield* admin(info, `ALTER DATABASE ${name} RENAME TO ${hidden}`)
    const emptied = yield* withClient(databaseUrl(info.adminUrl, hidden), (client) =>
      Effect.gen(function*() {
        if ((yield* schemaFingerprint(client)) !== info.fingerprint) return false
        yield* query(client, emptyTables)
        return true
      }))
    if (emptied) idle.push(hidden)
    else yield* drop(info, hidden)
  }).pipe(
    Effect.catchAllCause(() => Effect.zipRight(drop(info, name), drop(info, hidden)))
  )
}

/**
 * A database in the migrated template's state, for the scope, under a name of its own (a clone of
 * the template, or one an earlier test released and that was emptied since); its URL (what a test
 * hands to processes of its own).
 */
export const freshDatabase = Effect.gen(function*() {
  const info = inject("clinicDatabase")
  const name = yield* Effect.acquireRelease(
    Effect.suspend(() => {
      const name = nextName(info)
      const reused = idle.pop()
      return Effect.as(
        admin(
          info,
          reused === undefined
            ? `CREATE DATABASE ${name} TEMPLATE ${info.template} STRATEGY FILE_COPY`
            : `ALTER DATABASE ${reused} RENAME TO ${name}`
        ),
        name
      )
    }),
    (name) => recycle(info, name)
  )
  return databaseUrl(info.adminUrl, name)
})

/**
 * A fresh database cloned from the migrated template, for one test (or one `layer()` block), with
 * `PgClient` and `SqlClient` on it. Dropped when the layer is released.
 */
export const layer = Layer.orDie(Layer.unwrapScoped(
  Effect.map(freshDatabase, (url) => Database.clientLayer(Redacted.make(url), { maxConnections: 20 }))
))

/** The connection pool under a `layerWithPool` client, as tests observe it. */
export class Connections extends Context.Tag("@clinic/repository/testing/Connections")<Connections, {
  /** Connections checked out of the pool now (held by a query, a transaction or a reservation). */
  readonly inUse: Effect.Effect<number>
}>() {}

/**
 * `layer`, on a pool the test can observe (`Connections`): what a test of "every connection goes
 * back to the pool" reads. The same settings as `Database.clientLayer`.
 */
export const layerWithPool = Layer.orDie(Layer.unwrapScoped(
  Effect.gen(function*() {
    const url = yield* freshDatabase
    const pool = new Pg.Pool({ connectionString: url, max: 20, types: Database.pgTypes })
    // An idle client the server terminates (the test database is dropped at the end) is an
    // `error` event on the pool, which discards that client; unheard, it would crash the run.
    pool.on("error", () => {})
    const client = PgClient.layerFromPool({
      acquire: Effect.acquireRelease(Effect.succeed(pool), () => Effect.promise(() => pool.end())),
      transformQueryNames: String.camelToSnake,
      transformResultNames: String.snakeToCamel,
      types: Database.pgTypes
    })
    return Layer.merge(
      client,
      Layer.succeed(Connections, { inUse: Effect.sync(() => pool.totalCount - pool.idleCount) })
    )
  })
))
