import { PgClient } from "@effect/sql-pg"
import { Context, Effect, Layer, Redacted, String } from "effect"
import Pg from "pg"
import { inject } from "vitest"
import * as Database from "../Database.js"
import { databaseUrl, query, withClient } from "./TestServer.js"

let counter = 0

/**
 * A fresh database cloned from the migrated template, dropped when the scope closes; its URL
 * (what a test hands to processes of its own).
 */
export const freshDatabase = Effect.gen(function*() {
  const { adminUrl, template } = inject("clinicDatabase")
  const name = `clinic_test_${process.pid}_${Date.now().toString(36)}_${counter++}`
  yield* Effect.acquireRelease(
    withClient(adminUrl, (client) => query(client, `CREATE DATABASE ${name} TEMPLATE ${template} STRATEGY FILE_COPY`)),
    () => withClient(adminUrl, (client) => query(client, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
  )
  return databaseUrl(adminUrl, name)
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
