import { SqlClient, SqlError } from "@effect/sql"
import { Effect } from "effect"
export { at, startClock, T0 } from "@clinic/testing/TestTime"
export { makeTherapist } from "../src/testing/Fixtures.js"

/** What the service that owns a change wraps around the repository calls that make it. */
export const transactions = Effect.map(
  SqlClient.SqlClient,
  (sql) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    sql.withTransaction(effect).pipe(
      Effect.catchIf((error): error is SqlError.SqlError => error instanceof SqlError.SqlError, Effect.die)
    )
)
