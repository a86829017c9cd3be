import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient

  // The rate limiter counts login attempts too, whose subjects are not users: a normalised email
  // (accounts that do not exist are throttled like those that do) or a client address. The column
  // becomes a text `subject`; recordings keep writing their user ids into it.
  yield* sql`ALTER TABLE rate_limit_events RENAME COLUMN user_id TO subject`
  yield* sql`ALTER TABLE rate_limit_events ALTER COLUMN subject TYPE text`
  yield* sql`ALTER INDEX rate_limit_events_user_action_at_idx RENAME TO rate_limit_events_subject_action_at_idx`
  // Subjects that never come back (a sprayed email) are pruned by action and age, not by subject.
  yield* sql`CREATE INDEX rate_limit_events_action_at_idx ON rate_limit_events (action, at)`

  // Every login attempt with its outcome; never the password. `email` is the submitted address,
  // normalised, so that attempts on accounts that do not exist are recorded too. Rows outlive the
  // account they name (its id becomes null) but keep the email.
  yield* sql`
    CREATE TABLE login_audit (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      at timestamptz NOT NULL,
      email text NOT NULL,
      user_id uuid REFERENCES users (id) ON DELETE SET NULL,
      address text,
      user_agent text,
      outcome text NOT NULL CHECK (outcome IN ('succeeded', 'failed', 'throttled'))
    )`
  yield* sql`CREATE INDEX login_audit_at_idx ON login_audit (at)`
  // Whether an address is known for an account: a successful login from it not long ago.
  yield* sql`CREATE INDEX login_audit_known_address_idx ON login_audit (user_id, address, at)
    WHERE outcome = 'succeeded'`
})
