import { Effect, Layer, Redacted } from "effect"
import { inject } from "vitest"
import * as Database from "../Database.js"
import { databaseUrl, query, withClient } from "./TestServer.js"

let counter = 0

/**
 * A fresh database cloned from the migrated template, for one test (or one `layer()` block), with
 * `PgClient` and `SqlClient` on it. Dropped when the layer is released.
 */
export const layer = Layer.orDie(Layer.unwrapScoped(
  Effect.gen(function*() {
    const { adminUrl, template } = inject("clinicDatabase")
    const name = `clinic_test_${process.pid}_${Date.now().toString(36)}_${counter++}`
    yield* Effect.acquireRelease(
      withClient(adminUrl, (client) => query(client, `CREATE DATABASE ${name} TEMPLATE ${template}`)),
      () => withClient(adminUrl, (client) => query(client, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
    )
    return Database.clientLayer(Redacted.make(databaseUrl(adminUrl, name)), { maxConnections: 20 })
  })
))
