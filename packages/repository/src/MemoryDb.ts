import type {
  AuthSession,
  AuthSessionMedia,
  Booking,
  ExternalCalendar,
  OperatorAction,
  Patient,
  Recording,
  RecordingNotes,
  Transcript,
  User
} from "@clinic/domain"
import { SqlClient, SqlError } from "@effect/sql"
import type { DateTime } from "effect"
import { Context, Effect, identity, Layer, Ref } from "effect"
import type { LoginAuditEntry } from "./LoginAuditRepo.js"

export interface Tables {
  readonly users: ReadonlyMap<string, { readonly user: User; readonly passwordHash: string }>
  readonly authSessions: ReadonlyMap<string, AuthSession>
  readonly authSessionMedia: ReadonlyMap<string, AuthSessionMedia>
  readonly patients: ReadonlyMap<string, Patient>
  readonly bookings: ReadonlyMap<string, Booking>
  /** Feed token digest by therapist id. */
  readonly calendarFeedTokens: ReadonlyMap<string, { readonly tokenHash: string; readonly createdAt: DateTime.Utc }>
  readonly externalCalendars: ReadonlyMap<string, ExternalCalendar>
  /** Busy intervals by external calendar id. */
  readonly externalBusy: ReadonlyMap<string, ReadonlyArray<BusyInterval>>
  readonly recordings: ReadonlyMap<string, Recording>
  /** By recording id. */
  readonly recordingTranscripts: ReadonlyMap<string, Transcript>
  /** By recording id. */
  readonly recordingNotes: ReadonlyMap<string, RecordingNotes>
  /** Counted attempts (epoch millis, oldest first) by `JSON.stringify([action, subject])`. */
  readonly rateLimitEvents: ReadonlyMap<string, ReadonlyArray<number>>
  /** Oldest first. */
  readonly loginAudit: ReadonlyArray<LoginAuditEntry>
  /** Oldest first; an action's id is its position plus one. */
  readonly operatorActions: ReadonlyArray<OperatorAction>
}

export interface BusyInterval {
  readonly startsAt: DateTime.Utc
  readonly endsAt: DateTime.Utc
}

export const emptyTables: Tables = {
  users: new Map(),
  authSessions: new Map(),
  authSessionMedia: new Map(),
  patients: new Map(),
  bookings: new Map(),
  calendarFeedTokens: new Map(),
  externalCalendars: new Map(),
  externalBusy: new Map(),
  recordings: new Map(),
  recordingTranscripts: new Map(),
  recordingNotes: new Map(),
  rateLimitEvents: new Map(),
  loginAudit: [],
  operatorActions: []
}

/**
 * The in-memory twin of the database: one `Ref` over every table, so that a change touching two
 * tables (a session and its media) is one atomic `Ref.modify`, as it is one statement in Postgres.
 * Tests read it to check what a repository wrote.
 */
export class MemoryDb extends Context.Tag("@clinic/repository/MemoryDb")<MemoryDb, Ref.Ref<Tables>>() {
  static readonly layer = Layer.effect(MemoryDb, Ref.make(emptyTables))
}

/**
 * The `SqlClient` of memory setups: services open `sql.withTransaction` whatever the
 * implementation below them, and here that is the identity (each memory change is one
 * `Ref.modify` already). A query through it fails with a `SqlError`, like a database that is down,
 * which is what a memory test of `/ready` sees.
 */
export const sqlClientLayer: Layer.Layer<SqlClient.SqlClient> = Layer.succeed(
  SqlClient.SqlClient,
  new Proxy(() => {}, {
    apply: () => Effect.fail(new SqlError.SqlError({ message: "a memory setup has no database" })),
    get: (_target, property) =>
      property === "withTransaction"
        ? identity
        : () => Effect.fail(new SqlError.SqlError({ message: `a memory setup has no database (${String(property)})` }))
  }) as unknown as SqlClient.SqlClient
)

export const withRow = <K, V>(map: ReadonlyMap<K, V>, key: K, value: V): ReadonlyMap<K, V> =>
  new Map(map).set(key, value)

export const withoutRows = <K, V>(map: ReadonlyMap<K, V>, keys: Iterable<K>): ReadonlyMap<K, V> => {
  const next = new Map(map)
  for (const key of keys) next.delete(key)
  return next
}

export const tables = Effect.flatMap(MemoryDb, Ref.get)
