import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient

  // One row per allowed attempt; the limiter counts the rows of (user, action) in the rolling
  // window under a transaction-scoped advisory lock on that pair, and prunes what has left it.
  yield* sql`
    CREATE TABLE rate_limit_events (
      user_id uuid NOT NULL,
      action text NOT NULL,
      at timestamptz NOT NULL
    )`
  yield* sql`CREATE INDEX rate_limit_events_user_action_at_idx ON rate_limit_events (user_id, action, at)`
})
