import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  // One row per (user, key). The row is inserted and completed in the transaction that does the
  // work, so a concurrent request with the same key waits on the primary key and then reads the
  // committed response; a rolled-back attempt leaves no row behind.
  yield* sql`
    CREATE TABLE idempotency_keys (
      user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      key text NOT NULL,
      request_hash text NOT NULL,
      status_code integer,
      response jsonb,
      created_at timestamptz NOT NULL,
      PRIMARY KEY (user_id, key)
    )`
  yield* sql`CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at)`
})
