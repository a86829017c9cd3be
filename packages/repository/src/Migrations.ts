import { NodeContext } from "@effect/platform-node"
import { SqlClient, type SqlError } from "@effect/sql"
import { PgMigrator } from "@effect/sql-pg"
import { DateTime, Effect, Layer } from "effect"
import m0001 from "./migrations/0001_initial.js"
import m0002 from "./migrations/0002_scheduler.js"
import m0004 from "./migrations/0004_idempotency_keys.js"
import m0005 from "./migrations/0005_queue_events.js"
import m0006 from "./migrations/0006_recordings.js"
import m0008 from "./migrations/0008_calendar.js"
import m0009 from "./migrations/0009_auth_session_media.js"
import m0010 from "./migrations/0010_operator_dashboard.js"
import m0011 from "./migrations/0011_trace_parent.js"
import m0012 from "./migrations/0012_login_throttle_audit.js"

/**
 * Every migration, in order. Listed by hand (not globbed) so that bundled apps carry them.
 * Each new migration is a numbered file in `migrations/` and a line here.
 */
export const loader = PgMigrator.fromRecord({
  "0001_initial": m0001,
  "0002_scheduler": m0002,
  "0004_idempotency_keys": m0004,
  "0005_queue_events": m0005,
  "0006_recordings": m0006,
  "0008_calendar": m0008,
  "0009_auth_session_media": m0009,
  "0010_operator_dashboard": m0010,
  "0011_trace_parent": m0011,
  "0012_login_throttle_audit": m0012
})

// Replicas migrate on start, often at the same moment: a session advisory lock, held on a reserved
// connection, serialises them so that the second finds the work done instead of racing on
// `CREATE TABLE`. (A transaction-scoped lock cannot be used: the migrator probes for its table
// with a statement that fails, which would abort the surrounding transaction.)
const MIGRATION_LOCK = 72_450_001

export const run = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const connection = yield* sql.reserve
  yield* connection.executeRaw(`SELECT pg_advisory_lock(${MIGRATION_LOCK})`, [])
  yield* Effect.addFinalizer(() =>
    connection.executeRaw(`SELECT pg_advisory_unlock(${MIGRATION_LOCK})`, []).pipe(Effect.ignore)
  )
  return yield* PgMigrator.run({ loader })
}).pipe(
  Effect.tap((applied) =>
    Effect.logInfo("migrations applied").pipe(
      Effect.annotateLogs("migrations", applied.map(([id, name]) => `${id}_${name}`).join(", ") || "none")
    )
  ),
  Effect.scoped,
  Effect.provide(NodeContext.layer),
  Effect.withSpan("Migrations.run")
)

/** Runs the migrations once while the layer is built. */
export const layer = Layer.effectDiscard(run)

/** A migration the database has recorded. */
export interface AppliedMigration {
  readonly id: number
  readonly name: string
  readonly appliedAt: DateTime.Utc
  /** `false`: a newer release applied it; this build does not have it. */
  readonly inThisBuild: boolean
}

/** Where a database stands against this build's migrations (`migrate --status`). */
export interface MigrationStatus {
  /** Recorded in the database, in order. */
  readonly applied: ReadonlyArray<AppliedMigration>
  /** What `run` would apply: this build's migrations after the latest recorded one, in order. */
  readonly pending: ReadonlyArray<{ readonly id: number; readonly name: string }>
}

/** Reads the migrator's table (absent before the first migration) and changes nothing. */
export const status: Effect.Effect<MigrationStatus, SqlError.SqlError, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const [{ exists }] = yield* sql<
    { exists: boolean }
  >`SELECT to_regclass('effect_sql_migrations') IS NOT NULL AS exists`
  const recorded = exists
    ? yield* sql<{ migrationId: number; name: string; createdAt: Date }>`
        SELECT migration_id, name, created_at FROM effect_sql_migrations ORDER BY migration_id`
    : []
  const known = yield* loader.pipe(Effect.orDie)
  const knownIds = new Set(known.map(([id]) => id))
  const latest = recorded.reduce((max, row) => Math.max(max, row.migrationId), 0)
  return {
    applied: recorded.map((row) => ({
      id: row.migrationId,
      name: row.name,
      appliedAt: DateTime.unsafeMake(row.createdAt),
      inThisBuild: knownIds.has(row.migrationId)
    })),
    pending: known.filter(([id]) => id > latest).map(([id, name]) => ({ id, name }))
  }
}).pipe(Effect.withSpan("Migrations.status"))
