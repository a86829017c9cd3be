import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Layer, Option, Redacted } from "effect"
import { inject } from "vitest"
import * as Database from "../src/Database.js"
import * as Migrations from "../src/Migrations.js"
import { databaseUrl, query, withClient } from "../src/testing/TestServer.js"

/** Every migration the loader knows, as `[id, name]`, in order. */
const all = Effect.map(
  Effect.orDie(Migrations.loader),
  (loaded) => loaded.map(([id, name]): Array<number | string> => [id, name])
)

let counter = 0
/** An empty database (not the migrated template), dropped with the scope; its URL. */
const emptyDatabase = Effect.gen(function*() {
  const { adminUrl } = inject("clinicDatabase")
  const name = `clinic_migrate_${process.pid}_${Date.now().toString(36)}_${counter++}`
  yield* Effect.acquireRelease(
    withClient(adminUrl, (client) => query(client, `CREATE DATABASE ${name}`)),
    () => withClient(adminUrl, (client) => query(client, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
  )
  return Redacted.make(databaseUrl(adminUrl, name))
})

/** One app start: its own connection pool on `url`, migrating as `Database.layer` does; what it applied. */
const start = (url: Redacted.Redacted) =>
  Migrations.run.pipe(Effect.provide(Database.clientLayer(url, { maxConnections: 2 })), Effect.scoped)

/** The rows of the migrator's table: what has been applied to the database, once each. */
const recorded = (url: Redacted.Redacted) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    return yield* sql<{ migrationId: number; name: string }>`
      SELECT migration_id, name FROM effect_sql_migrations ORDER BY migration_id`
  }).pipe(Effect.orDie, Effect.provide(Database.clientLayer(url, { maxConnections: 1 })), Effect.scoped)

describe("Migrations", () => {
  it.scoped("a fresh database is migrated on start: every migration applied and recorded once", () =>
    Effect.gen(function*() {
      const url = yield* emptyDatabase
      const expected = yield* all
      assert.isAbove(expected.length, 0)
      const applied = yield* start(url)
      assert.deepStrictEqual(applied.map(([id, name]) => [id, name]), expected)
      assert.deepStrictEqual((yield* recorded(url)).map((r) => [r.migrationId, r.name]), expected)
      // The schema is there: the tables the repositories use exist.
      const tables = yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        return yield* sql<{ n: number }>`
          SELECT count(*)::int AS n FROM information_schema.tables
          WHERE table_schema = 'public' AND table_name IN ('users', 'auth_sessions', 'bookings', 'tasks')`
      }).pipe(Effect.orDie, Effect.provide(Database.clientLayer(url, { maxConnections: 1 })), Effect.scoped)
      assert.strictEqual(tables[0].n, 4)
    }))

  it.scoped("a second start migrates nothing", () =>
    Effect.gen(function*() {
      const url = yield* emptyDatabase
      const expected = yield* all
      assert.strictEqual((yield* start(url)).length, expected.length)
      assert.deepStrictEqual(yield* start(url), [])
      assert.strictEqual((yield* recorded(url)).length, expected.length)
    }))

  it.scoped("two replicas starting together on one fresh database migrate it once, both without error", () =>
    Effect.gen(function*() {
      const url = yield* emptyDatabase
      const expected = yield* all
      const exits = yield* Effect.all([Effect.exit(start(url)), Effect.exit(start(url))], { concurrency: 2 })
      const applied = exits.map((exit) => {
        assert.isTrue(Exit.isSuccess(exit), `a replica failed: ${Exit.isFailure(exit) ? String(exit.cause) : ""}`)
        return Exit.isSuccess(exit) ? exit.value.map(([id]) => id) : []
      })
      // One replica applied everything, the other found it done.
      assert.deepStrictEqual(applied.flat().sort((a, b) => a - b), expected.map(([id]) => id))
      assert.isTrue(applied.some((ids) => ids.length === 0))
      assert.deepStrictEqual((yield* recorded(url)).map((r) => [r.migrationId, r.name]), expected)
    }))

  it.scoped("the app's Database layer migrates before anything uses the client", () =>
    Effect.gen(function*() {
      const url = yield* emptyDatabase
      const expected = yield* all
      const count = yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        return yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM effect_sql_migrations`
      }).pipe(
        Effect.orDie,
        Effect.provide(Migrations.layer.pipe(Layer.provideMerge(Database.clientLayer(url, { maxConnections: 2 })))),
        Effect.scoped
      )
      assert.strictEqual(count[0].n, expected.length)
    }))

  it.scoped("migrate --status: a fresh database has every migration pending; after a start, every one applied", () =>
    Effect.gen(function*() {
      const url = yield* emptyDatabase
      const expected = yield* all
      const status = Migrations.status.pipe(
        Effect.orDie,
        Effect.provide(Database.clientLayer(url, { maxConnections: 1 })),
        Effect.scoped
      )
      const before = yield* status
      assert.deepStrictEqual(before.applied, [])
      assert.deepStrictEqual(before.pending.map(({ id, name }) => [id, name]), expected)
      yield* start(url)
      const after = yield* status
      assert.deepStrictEqual(after.pending, [])
      assert.deepStrictEqual(
        after.applied.map(({ id, inThisBuild, name }) => [id, name, inThisBuild]),
        expected.map((m) => [...m, true])
      )
    }))

  it.scoped("with CLINIC_MIGRATE_ON_START=false an app refuses a database with pending migrations and migrates nothing", () =>
    Effect.gen(function*() {
      const url = yield* emptyDatabase
      const config = Layer.succeed(
        Database.DatabaseConfig,
        Database.DatabaseConfig.make({
          url: Option.some(url),
          embeddedDataDir: "unused",
          embeddedPort: 1,
          maxConnections: 2,
          statementTimeout: Duration.seconds(5),
          connectTimeout: Duration.seconds(5),
          migrateOnStart: false,
          production: true
        })
      )
      const appStart = Effect.scoped(Layer.build(Database.layer.pipe(Layer.provide(config))))
      const refused = yield* Effect.exit(appStart)
      assert.isTrue(Exit.isFailure(refused) && String(refused.cause).includes("MigrationsPending"))
      const status = Migrations.status.pipe(
        Effect.orDie,
        Effect.provide(Database.clientLayer(url, { maxConnections: 1 })),
        Effect.scoped
      )
      assert.deepStrictEqual((yield* status).applied, [])
      yield* start(url)
      assert.isTrue(Exit.isSuccess(yield* Effect.exit(appStart)))
    }))
})
