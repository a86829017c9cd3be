import { Effect, Exit, Layer, Redacted, Scope } from "effect"
import type { TestProject } from "vitest/node"
import * as Database from "../Database.js"
import * as Migrations from "../Migrations.js"
import { databaseUrl, query, server, withClient } from "./TestServer.js"

/**
 * Starts Postgres once per test run and migrates a template database once; each test then clones
 * the template (see `TestDatabase`), which takes milliseconds, instead of migrating again.
 */
export default async function setup(project: TestProject) {
  const scope = Effect.runSync(Scope.make())
  const template = `clinic_template_${process.pid}_${Date.now().toString(36)}`
  const program = Effect.gen(function*() {
    const adminUrl = yield* server
    yield* withClient(adminUrl, (client) => query(client, `CREATE DATABASE ${template}`))
    yield* Effect.addFinalizer(() =>
      withClient(adminUrl, (client) => query(client, `DROP DATABASE IF EXISTS ${template} WITH (FORCE)`))
    )
    // The migrated template must have no open connection left, or cloning it fails.
    yield* Effect.scoped(Layer.build(Migrations.layer.pipe(
      Layer.provide(Database.clientLayer(Redacted.make(databaseUrl(adminUrl, template)), { maxConnections: 2 }))
    )))
    return { adminUrl, template }
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
