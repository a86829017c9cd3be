import { type SqlClient, SqlError } from "@effect/sql"
import { Effect } from "effect"

/**
 * `sql.withTransaction` for services: a failed BEGIN/COMMIT is a defect like any `SqlError` at the
 * repository boundary, while the effect's own typed errors roll back and survive. On the memory
 * `SqlClient` (`Repositories.layerMemory`) the transaction is the identity.
 */
export const transactional = (sql: SqlClient.SqlClient) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  sql.withTransaction(effect).pipe(
    Effect.catchIf((error: unknown) => error instanceof SqlError.SqlError, Effect.die)
  ) as Effect.Effect<A, E, R>
