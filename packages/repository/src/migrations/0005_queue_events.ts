import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient

  // One row per task run request. A claim sets `lease_id` and `locked_until`; a worker that dies
  // simply stops extending its lease, and the row becomes claimable again once it lapses. Every
  // write by a worker names its lease, so a worker whose lease was taken over cannot overwrite.
  yield* sql`
    CREATE TABLE tasks (
      id uuid PRIMARY KEY,
      name text NOT NULL,
      queue text NOT NULL,
      payload jsonb NOT NULL,
      priority integer NOT NULL,
      status text NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'dead')),
      attempts integer NOT NULL CHECK (attempts >= 0),
      max_attempts integer NOT NULL CHECK (max_attempts >= 1),
      run_at timestamptz NOT NULL,
      locked_until timestamptz,
      lease_id uuid,
      idempotency_key text UNIQUE,
      last_error text,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      finished_at timestamptz,
      CHECK (status <> 'running' OR (locked_until IS NOT NULL AND lease_id IS NOT NULL))
    )`
  yield* sql`CREATE INDEX tasks_pending_idx ON tasks (queue, priority DESC, run_at, id) WHERE status = 'pending'`
  yield* sql`CREATE INDEX tasks_running_idx ON tasks (queue, locked_until) WHERE status = 'running'`
  yield* sql`CREATE INDEX tasks_finished_idx ON tasks (finished_at) WHERE finished_at IS NOT NULL`

  // Domain events, written in the transaction of the change they describe. The relay fans each
  // one out to its subscribers (as tasks) and stamps `dispatched_at` in one transaction.
  yield* sql`
    CREATE TABLE outbox_events (
      id uuid PRIMARY KEY,
      type text NOT NULL,
      payload jsonb NOT NULL,
      occurred_at timestamptz NOT NULL,
      dispatched_at timestamptz
    )`
  yield* sql`CREATE INDEX outbox_events_undispatched_idx ON outbox_events (occurred_at, id) WHERE dispatched_at IS NULL`
  yield* sql`CREATE INDEX outbox_events_dispatched_idx ON outbox_events (dispatched_at) WHERE dispatched_at IS NOT NULL`

  // Which subscriber has handled which event: inserted in the handler's transaction, so a second
  // delivery of the same event (crash, replica) finds it and skips. No foreign key: the outbox
  // is pruned on its own schedule.
  yield* sql`
    CREATE TABLE processed_events (
      event_id uuid NOT NULL,
      subscriber text NOT NULL,
      processed_at timestamptz NOT NULL,
      PRIMARY KEY (event_id, subscriber)
    )`
  yield* sql`CREATE INDEX processed_events_processed_at_idx ON processed_events (processed_at)`
})
