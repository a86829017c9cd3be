import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient

  // Who did what to the running system, from the dashboard or the admin API. Append-only.
  yield* sql`
    CREATE TABLE operator_actions (
      id bigserial PRIMARY KEY,
      operator text NOT NULL,
      action text NOT NULL,
      target text,
      detail text,
      at timestamptz NOT NULL
    )`
  yield* sql`CREATE INDEX operator_actions_at_idx ON operator_actions (at DESC, id DESC)`

  // Why an operator paused a job, shown to the other operators.
  yield* sql`ALTER TABLE scheduler_jobs ADD COLUMN pause_reason text`

  // One row per live scheduler replica, refreshed every half lease; removed when it stops.
  yield* sql`
    CREATE TABLE scheduler_replicas (
      replica text PRIMARY KEY,
      started_at timestamptz NOT NULL,
      last_seen_at timestamptz NOT NULL,
      queues jsonb NOT NULL
    )`

  // The queue view's chart reads the last hour of finished tasks.
  yield* sql`CREATE INDEX tasks_finished_queue_idx ON tasks (queue, finished_at) WHERE finished_at IS NOT NULL`
})
