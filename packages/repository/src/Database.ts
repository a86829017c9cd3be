import { projectRoot } from "@clinic/foundation"
import { PgClient } from "@effect/sql-pg"
import type { Redacted } from "effect"
import { Config, Effect, Layer, Option, String } from "effect"
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

/**
 * What apps use: the client, with every migration applied before anything else runs. It needs
 * `DatabaseConfig`, which apps load at the root with their other config services (`Settings.layer`).
 */
export const layer = Migrations.layer.pipe(Layer.provideMerge(layerClient))
