import { projectRoot } from "@clinic/foundation"
import type { Migrator, SqlClient, SqlError as SqlErrors } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import type { Redacted } from "effect"
import { Config, Data, Effect, Layer, Option, String } from "effect"
import * as Path from "node:path"
import Pg from "pg"
import * as EmbeddedPostgres from "./EmbeddedPostgres.js"
import * as Migrations from "./Migrations.js"

const settings = Config.all({
  url: Config.option(Config.redacted("DATABASE_URL")),
  embeddedDataDir: Config.string("CLINIC_PG_DATA_DIR").pipe(
    Config.withDefault(Path.join(projectRoot(), ".data", "postgres"))
  ),
  embeddedPort: Config.port("CLINIC_PG_PORT").pipe(Config.withDefault(54329)),
  maxConnections: Config.integer("CLINIC_PG_MAX_CONNECTIONS").pipe(
    Config.validate({ message: "CLINIC_PG_MAX_CONNECTIONS must be at least 1", validation: (n) => n >= 1 }),
    Config.withDefault(10)
  ),
  migrateOnStart: Config.boolean("CLINIC_MIGRATE_ON_START").pipe(Config.withDefault(true)),
  production: Config.string("NODE_ENV").pipe(Config.withDefault(""), Config.map((env) => env === "production"))
}).pipe(
  // A production replica without DATABASE_URL would otherwise serve from an empty embedded
  // database of its own, looking healthy: it refuses to start instead.
  Config.validate({
    message: "DATABASE_URL must be set when NODE_ENV=production (the embedded database is for development only)",
    validation: ({ production, url }) => !production || Option.isSome(url)
  })
)

/** Where the database is: `DATABASE_URL`, or else an embedded server in a folder of the project. */
export class DatabaseConfig extends Effect.Service<DatabaseConfig>()("@clinic/repository/DatabaseConfig", {
  effect: settings
}) {
  /** For `Settings.layer`, which loads it together with the other config services of the app. */
  static readonly load = Effect.map(settings, (values) => DatabaseConfig.make(values))
}

// int8 (`count(*)`, `bigint` columns) arrives as a string by default; our values fit a double.
const INT8_OID = 20
export const pgTypes: Pg.CustomTypesConfig = {
  getTypeParser: (oid, format) =>
    oid === INT8_OID ? (value: string) => Number(value) : Pg.types.getTypeParser(oid, format)
}

/** A client on one database, with the naming transforms every repository relies on. */
export const clientLayer = (url: Redacted.Redacted, options: { readonly maxConnections?: number } = {}) =>
  PgClient.layer({
    url,
    maxConnections: options.maxConnections ?? 10,
    transformQueryNames: String.camelToSnake,
    transformResultNames: String.snakeToCamel,
    types: pgTypes
  })

/** The server URL the app should use, starting an embedded server for the scope when none is set. */
export const serverUrl = Effect.gen(function*() {
  const config = yield* DatabaseConfig
  if (Option.isSome(config.url)) return config.url.value
  const server = yield* EmbeddedPostgres.start({ dataDir: config.embeddedDataDir, port: config.embeddedPort })
  return server.url
})

/** `PgClient` and `SqlClient` on `DATABASE_URL` or an embedded server, without migrating. */
export const layerClient = Layer.unwrapScoped(
  Effect.gen(function*() {
    const { maxConnections } = yield* DatabaseConfig
    const url = yield* serverUrl
    return clientLayer(url, { maxConnections })
  })
)

export class MigrationsPending extends Data.TaggedError("MigrationsPending")<{ readonly message: string }> {}

/**
 * With `CLINIC_MIGRATE_ON_START=false` (the `migrate` CLI has run before, on a direct connection:
 * its session advisory lock does not survive PgBouncer's transaction pooling), an app only checks
 * that nothing is pending, and refuses to start on a schema older than its code.
 */
const checkMigrated = Effect.gen(function*() {
  const { pending } = yield* Migrations.status
  if (pending.length > 0) {
    return yield* new MigrationsPending({
      message: `${pending.length} migration(s) pending (${
        pending.map(({ id, name }) => `${id}_${name}`).join(", ")
      }): run migrate first, or unset CLINIC_MIGRATE_ON_START`
    })
  }
})

/**
 * What apps use: the client, with every migration applied (or, with `CLINIC_MIGRATE_ON_START=false`,
 * checked) before anything else runs. It needs `DatabaseConfig`, which apps load at the root with
 * their other config services (`Settings.layer`).
 */
export const layer = Layer.unwrapEffect(
  Effect.map(
    DatabaseConfig,
    (
      { migrateOnStart }
    ): Layer.Layer<never, Migrator.MigrationError | MigrationsPending | SqlErrors.SqlError, SqlClient.SqlClient> =>
      migrateOnStart ? Migrations.layer : Layer.effectDiscard(checkMigrated)
  )
).pipe(Layer.provideMerge(layerClient))
