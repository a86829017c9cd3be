import { SqlClient, Statement } from "@effect/sql"
import { Effect, Schema } from "effect"

class Rollback extends Schema.TaggedError<Rollback>()("Rollback", {}) {}

/**
 * Runs `effect` with every statement it sends explained first, as the code under study sends it
 * (an `@effect/sql` statement transformer, so a benchmark never keeps a copy of a repository's SQL):
 * `EXPLAIN (ANALYZE, BUFFERS)` of the statement is printed under `label` and rolled back, then the
 * real statement runs and meets the same rows.
 */
export const explained = <A, E, R>(label: string, effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    return yield* Statement.withTransformer(effect, (statement, make) =>
      Effect.gen(function*() {
        const [text, params] = statement.compile()
        let plan: ReadonlyArray<{ readonly "QUERY PLAN": string }> = []
        yield* make<{ readonly "QUERY PLAN": string }>`EXPLAIN (ANALYZE, BUFFERS) ${statement}`.pipe(
          Effect.tap((rows) => {
            plan = rows
          }),
          Effect.zipRight(new Rollback()),
          sql.withTransaction,
          Effect.catchTag("Rollback", () => Effect.void),
          Effect.orDie
        )
        const shown = params.length > 6 ? `${params.length} parameters` : JSON.stringify(params)
        console.log(`\n### ${label}\n${text.replace(/\n\s+/g, "\n  ").trim()}\n-- ${shown}`)
        console.log(plan.map((row) => row["QUERY PLAN"]).join("\n"))
        return statement
      }).pipe(Statement.withTransformerDisabled))
  })
