import { Effect, Exit, Layer, Redacted, Scope } from "effect"
import type { TestProject } from "vitest/node"
import * as Database from "../Database.js"
import * as Migrations from "../Migrations.js"
import { databaseUrl, query, schemaFingerprint, server, withClient } from "./TestServer.js"

/**
 * Starts Postgres once per test run and migrates a template database once; tests then get clones
 * of the template (see `TestDatabase`) instead of migrating again. The teardown drops the template
 * and every test database of the run, so a shared server (`TEST_DATABASE_URL`) keeps none.
 */
export default async function setup(project: TestProject) {
  const scope = Effect.runSync(Scope.make())
  const run = `${process.pid}_${Date.now().toString(36)}`
  const template = `clinic_template_${run}`
  const databasePrefix = `clinic_test_${run}_`
  const program = Effect.gen(function*() {
    const adminUrl = yield* server
    yield* withClient(adminUrl, (client) => query(client, `CREATE DATABASE ${template}`))
    yield* Effect.addFinalizer(() =>
      withClient(adminUrl, (client) =>
        Effect.gen(function*() {
          const { rows } = yield* query(
            client,
            `SELECT datname FROM pg_database WHERE datname LIKE '${databasePrefix}%' OR datname = '${template}'`
          )
          for (const { datname } of rows) yield* query(client, `DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`)
        }))
    )
    // The migrated template must have no open connection left, or cloning it fails.
    yield* Effect.scoped(Layer.build(Migrations.layer.pipe(
      Layer.provide(Database.clientLayer(Redacted.make(databaseUrl(adminUrl, template)), { maxConnections: 2 }))
    )))
    const fingerprint = yield* withClient(databaseUrl(adminUrl, template), schemaFingerprint)
    return { adminUrl, template, databasePrefix, fingerprint }
  })
  const info = await Effect.runPromise(Scope.extend(program, scope)).catch(async (error) => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    throw error
  })
  project.provide("clinicDatabase", info)
  return async () => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
}
