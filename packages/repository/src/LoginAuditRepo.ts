import { Timestamp, UserId } from "@clinic/domain"
import { withMethodSpans } from "@clinic/foundation"
import { iso } from "@clinic/foundation/Sql"
import { SqlClient, SqlSchema } from "@effect/sql"
import type { DateTime } from "effect"
import { Context, Effect, Layer, Ref, Schema } from "effect"
import { MemoryDb } from "./MemoryDb.js"

/** `throttled`: refused before the password was checked. */
export const LoginOutcome = Schema.Literal("succeeded", "failed", "throttled")
export type LoginOutcome = typeof LoginOutcome.Type

/**
 * One login attempt: who (the account, when the email names one, and the submitted email,
 * normalised), when, from where (client address and user agent), and how it ended. Never the
 * password.
 */
export const LoginAuditEntry = Schema.Struct({
  at: Timestamp,
  email: Schema.String,
  userId: Schema.NullOr(UserId),
  address: Schema.NullOr(Schema.String),
  userAgent: Schema.NullOr(Schema.String),
  outcome: LoginOutcome
})
export type LoginAuditEntry = typeof LoginAuditEntry.Type

export interface LoginAuditRepoShape {
  readonly record: (entry: LoginAuditEntry) => Effect.Effect<void>
  /** The latest `limit` entries, newest first (for operators; nothing serves them publicly). */
  readonly listRecent: (limit: number) => Effect.Effect<ReadonlyArray<LoginAuditEntry>>
  /** Whether `userId` logged in successfully from `address` after `since`. */
  readonly hasSucceeded: (
    query: { readonly userId: UserId; readonly address: string; readonly since: DateTime.Utc }
  ) => Effect.Effect<boolean>
}

const makePg = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const insert = SqlSchema.void({
    Request: LoginAuditEntry,
    execute: (row) => sql`INSERT INTO login_audit ${sql.insert(row)}`
  })
  const recent = SqlSchema.findAll({
    Request: Schema.Number,
    Result: LoginAuditEntry,
    execute: (limit) =>
      sql`SELECT at, email, user_id, address, user_agent, outcome FROM login_audit ORDER BY at DESC, id DESC
          LIMIT ${limit}`
  })
  const succeeded = SqlSchema.findAll({
    Request: Schema.Struct({ userId: Schema.String, address: Schema.String, since: Schema.String }),
    Result: Schema.Struct({ found: Schema.Number }),
    execute: ({ address, since, userId }) =>
      sql`SELECT 1 AS found FROM login_audit
          WHERE user_id = ${userId} AND address = ${address} AND at > ${since} AND outcome = 'succeeded'
          LIMIT 1`
  })
  return LoginAuditRepo.of({
    record: (entry) =>
      insert(entry).pipe(
        Effect.orDie,
        Effect.withSpan("LoginAuditRepo.record", { attributes: { outcome: entry.outcome } })
      ),
    listRecent: (limit) => recent(limit).pipe(Effect.orDie, Effect.withSpan("LoginAuditRepo.listRecent")),
    hasSucceeded: ({ address, since, userId }) =>
      succeeded({ userId, address, since: iso(since) }).pipe(
        Effect.map((rows) => rows.length > 0),
        Effect.orDie,
        Effect.withSpan("LoginAuditRepo.hasSucceeded")
      )
  })
})

const makeMemory = Effect.gen(function*() {
  const db = yield* MemoryDb
  return LoginAuditRepo.of({
    record: (entry) => Ref.update(db, (t) => ({ ...t, loginAudit: [...t.loginAudit, entry] })),
    listRecent: (limit) => Effect.map(Ref.get(db), (t) => t.loginAudit.slice(-limit).reverse()),
    hasSucceeded: ({ address, since, userId }) =>
      Effect.map(
        Ref.get(db),
        (t) =>
          t.loginAudit.some((entry) =>
            entry.userId === userId && entry.address === address && entry.outcome === "succeeded" &&
            entry.at.epochMillis > since.epochMillis
          )
      )
  })
}).pipe(withMethodSpans("LoginAuditRepo"))

/** The login audit log (`login_audit`): written on every login attempt, read by operators. */
export class LoginAuditRepo extends Context.Tag("@clinic/repository/LoginAuditRepo")<
  LoginAuditRepo,
  LoginAuditRepoShape
>() {
  static readonly layerPg: Layer.Layer<LoginAuditRepo, never, SqlClient.SqlClient> = Layer.effect(
    LoginAuditRepo,
    makePg
  )
  static readonly layerMemory: Layer.Layer<LoginAuditRepo, never, MemoryDb> = Layer.effect(LoginAuditRepo, makeMemory)
}
