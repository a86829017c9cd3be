import { projectRoot } from "@clinic/foundation"
import type { Migrator, SqlClient, SqlError as SqlErrors } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { SqlError } from "@effect/sql/SqlError"
import { Config, Data, Duration, Effect, Layer, Option, Redacted, String } from "effect"
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
  statementTimeout: Config.duration("DATABASE_STATEMENT_TIMEOUT").pipe(
    Config.validate({
      message: "DATABASE_STATEMENT_TIMEOUT must be above zero",
      validation: (d) => Duration.greaterThan(d, Duration.zero)
    }),
    Config.withDefault(Duration.seconds(5))
  ),
  connectTimeout: Config.duration("DATABASE_CONNECT_TIMEOUT").pipe(
    Config.validate({
      message: "DATABASE_CONNECT_TIMEOUT must be above zero",
      validation: (d) => Duration.greaterThan(d, Duration.zero)
    }),
    Config.withDefault(Duration.seconds(5))
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

export interface ClientOptions {
  readonly maxConnections?: number
  /**
   * Longest statement: the server cancels it (57014), and the client gives up on an answer a
   * second later (a frozen server cancels nothing). Unset: no limit.
   */
  readonly statementTimeout?: Duration.DurationInput
  /** Longest wait for a new connection, or for a free one of the pool. Unset: no limit. */
  readonly connectTimeout?: Duration.DurationInput
}

// The client-side bound waits a little past the server's, so a live server's own cancel (a
// clean 57014, the connection kept) wins whenever the server still answers.
const CLIENT_TIMEOUT_MARGIN_MS = 1_000

const millis = (duration: Duration.DurationInput | undefined) =>
  duration === undefined ? undefined : Duration.toMillis(Duration.decode(duration))

/** A client on one database, with the naming transforms every repository relies on. */
export const clientLayer = (url: Redacted.Redacted, options: ClientOptions = {}) => {
  const statement = millis(options.statementTimeout)
  return PgClient.layerFromPool({
    acquire: Effect.gen(function*() {
      const pool = yield* Effect.acquireRelease(
        Effect.sync(() => {
          const pool = new Pg.Pool({
            connectionString: Redacted.value(url),
            max: options.maxConnections ?? 10,
            types: pgTypes,
            ...(options.connectTimeout === undefined
              ? {}
              : { connectionTimeoutMillis: millis(options.connectTimeout) }),
            ...(statement === undefined ? {} : {
              statement_timeout: statement,
              query_timeout: statement + CLIENT_TIMEOUT_MARGIN_MS
            })
          })
          // An idle connection the server closes (restart, shutdown) is an `error` event; the pool
          // drops that connection, and the next query opens another.
          pool.on("error", () => {})
          return pool
        }),
        (pool) => Effect.promise(() => pool.end()).pipe(Effect.interruptible, Effect.timeoutOption(1000))
      )
      // The database must answer at start: a wrong URL fails the start, not the first request.
      yield* Effect.tryPromise({
        try: () => pool.query("SELECT 1"),
        catch: (cause) => new SqlError({ cause, message: "PgClient: Failed to connect" })
      })
      return pool
    }),
    transformQueryNames: String.camelToSnake,
    transformResultNames: String.snakeToCamel,
    types: pgTypes
  })
}

/**
 * The server the app should use: `DATABASE_URL`, or an embedded server started for the scope
 * (`embedded`, which tells when it dies).
 */
export const server = Effect.gen(function*() {
  const config = yield* DatabaseConfig
  if (Option.isSome(config.url)) return { url: config.url.value, embedded: Option.none() }
  const started = yield* EmbeddedPostgres.start({ dataDir: config.embeddedDataDir, port: config.embeddedPort })
  return { url: started.url, embedded: Option.some(started) }
})

/** The server URL the app should use, starting an embedded server for the scope when none is set. */
export const serverUrl = Effect.map(server, (s) => s.url)

/**
 * A short-lived client for migrations (the `migrate` CLI, and apps at start): no statement timeout,
 * since a large index build, or waiting for another replica's migration lock, may take long.
 */
const migrationClient = (url: Redacted.Redacted, connectTimeout: Duration.Duration) =>
  clientLayer(url, { maxConnections: 2, connectTimeout })

/** `PgClient` and `SqlClient` for migrations on `DATABASE_URL` or an embedded server, without migrating. */
export const layerClient = Layer.unwrapScoped(
  Effect.gen(function*() {
    const { connectTimeout } = yield* DatabaseConfig
    return migrationClient(yield* serverUrl, connectTimeout)
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
 * What apps use: `PgClient` and `SqlClient` on `DATABASE_URL` or an embedded server, with every
 * migration applied (or, with `CLINIC_MIGRATE_ON_START=false`, checked) before anything else runs.
 * Requests and loops get the statement and connect timeouts; migrations run on a short-lived client
 * of their own. It needs `DatabaseConfig`, which apps load at the root with their other config
 * services (`Settings.layer`).
 */
export const layer = Layer.unwrapScoped(
  Effect.gen(function*() {
    const config = yield* DatabaseConfig
    const url = yield* serverUrl
    const migrateOrCheck: Effect.Effect<
      void,
      Migrator.MigrationError | MigrationsPending | SqlErrors.SqlError,
      SqlClient.SqlClient
    > = config.migrateOnStart ? Effect.asVoid(Migrations.run) : checkMigrated
    const migrated = Layer.effectDiscard(
      migrateOrCheck.pipe(Effect.provide(migrationClient(url, config.connectTimeout)))
    )
    const client = clientLayer(url, {
      maxConnections: config.maxConnections,
      statementTimeout: config.statementTimeout,
      connectTimeout: config.connectTimeout
    })
    return Layer.merge(client, migrated)
  })
)
