import { OperatorAction, OperatorActionKind } from "@clinic/domain"
import { withMethodSpans } from "@clinic/foundation"
import { iso } from "@clinic/foundation/Sql"
import { SqlClient, SqlSchema } from "@effect/sql"
import { Context, DateTime, Effect, Layer, Ref, Schema } from "effect"
import { MemoryDb } from "./MemoryDb.js"

export interface NewOperatorAction {
  readonly operator: string
  readonly action: OperatorActionKind
  readonly target: string | null
  readonly detail: string | null
  readonly at: DateTime.Utc
}

export interface OperatorActionRepoShape {
  readonly record: (action: NewOperatorAction) => Effect.Effect<OperatorAction>
  /** The latest actions, newest first. */
  readonly recent: (limit: number) => Effect.Effect<ReadonlyArray<OperatorAction>>
}

const makePg = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const insert = SqlSchema.single({
    Request: Schema.Struct({
      operator: Schema.String,
      action: OperatorActionKind,
      target: Schema.NullOr(Schema.String),
      detail: Schema.NullOr(Schema.String),
      at: Schema.String
    }),
    Result: OperatorAction,
    execute: (row) =>
      sql`INSERT INTO operator_actions (operator, action, target, detail, at)
          VALUES (${row.operator}, ${row.action}, ${row.target}, ${row.detail}, ${row.at}) RETURNING *`
  })
  const recent = SqlSchema.findAll({
    Request: Schema.Number,
    Result: OperatorAction,
    execute: (limit) => sql`SELECT * FROM operator_actions ORDER BY at DESC, id DESC LIMIT ${limit}`
  })
  return OperatorActionRepo.of({
    record: (action) =>
      insert({ ...action, at: iso(action.at) }).pipe(
        Effect.catchTags({ SqlError: Effect.die, ParseError: Effect.die, NoSuchElementException: Effect.die }),
        Effect.withSpan("OperatorActionRepo.record")
      ),
    recent: (limit) =>
      recent(limit).pipe(
        Effect.catchTags({ SqlError: Effect.die, ParseError: Effect.die }),
        Effect.withSpan("OperatorActionRepo.recent")
      )
  })
})

const makeMemory = Effect.gen(function*() {
  const db = yield* MemoryDb
  return OperatorActionRepo.of({
    record: (action) =>
      Ref.modify(db, (tables) => {
        const row = new OperatorAction({ ...action, id: tables.operatorActions.length + 1 })
        return [row, { ...tables, operatorActions: [...tables.operatorActions, row] }]
      }),
    recent: (limit) =>
      Effect.map(Ref.get(db), (tables) =>
        [...tables.operatorActions]
          .sort((a, b) => DateTime.toEpochMillis(b.at) - DateTime.toEpochMillis(a.at) || b.id - a.id)
          .slice(0, limit))
  })
}).pipe(withMethodSpans("OperatorActionRepo"))

export class OperatorActionRepo extends Context.Tag("@clinic/repository/OperatorActionRepo")<
  OperatorActionRepo,
  OperatorActionRepoShape
>() {
  static readonly layerPg = Layer.effect(OperatorActionRepo, makePg)
  static readonly layerMemory = Layer.effect(OperatorActionRepo, makeMemory)
}
