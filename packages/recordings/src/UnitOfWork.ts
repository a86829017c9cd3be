import { SqlClient, SqlError } from "@effect/sql"
import { Context, Effect, Layer } from "effect"

/**
 * Runs an effect as one unit of work: a database transaction on Postgres, so that a recording's
 * row, its first queued task and its `recording.uploaded` event commit together or not at all.
 * The memory twin has nothing to roll back and runs the effect as it is.
 */
export class UnitOfWork extends Context.Tag("@clinic/recordings/UnitOfWork")<UnitOfWork, {
  readonly transaction: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}>() {}

export const layerPg: Layer.Layer<UnitOfWork, never, SqlClient.SqlClient> = Layer.effect(
  UnitOfWork,
  Effect.map(SqlClient.SqlClient, (sql) =>
    UnitOfWork.of({
      // A failed BEGIN/COMMIT is a defect like any SqlError at the repository boundary; the
      // effect's own typed errors roll back and survive.
      transaction: <A, E, R>(effect: Effect.Effect<A, E, R>) =>
        sql.withTransaction(effect).pipe(
          Effect.catchIf((error) => error instanceof SqlError.SqlError, Effect.die)
        ) as Effect.Effect<A, E, R>
    }))
)

export const layerMemory: Layer.Layer<UnitOfWork> = Layer.succeed(UnitOfWork, UnitOfWork.of({ transaction: (e) => e }))
