import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient

  // One row per tick of a job: the claim that makes a tick run exactly once across replicas
  // (unique on job and scheduled time), then its history. A `running` row is leased: a replica
  // killed mid-run stops renewing, and another takes the claim over once `lease_until` passes.
  yield* sql`
    CREATE TABLE scheduler_runs (
      id bigserial PRIMARY KEY,
      job text NOT NULL,
      scheduled_at timestamptz NOT NULL,
      trigger text NOT NULL CHECK (trigger IN ('schedule', 'manual', 'catch-up')),
      outcome text NOT NULL CHECK (outcome IN ('running', 'succeeded', 'failed', 'skipped', 'interrupted')),
      replica text NOT NULL,
      attempt integer NOT NULL DEFAULT 1,
      started_at timestamptz,
      finished_at timestamptz,
      lease_until timestamptz,
      result jsonb,
      error text,
      CONSTRAINT scheduler_runs_job_scheduled_at_key UNIQUE (job, scheduled_at),
      CHECK (outcome <> 'running' OR lease_until IS NOT NULL)
    )`
  yield* sql`CREATE INDEX scheduler_runs_running_idx ON scheduler_runs (lease_until) WHERE outcome = 'running'`
  yield* sql`CREATE INDEX scheduler_runs_scheduled_at_idx ON scheduler_runs (scheduled_at)`

  // Pausing is shared by every replica, so it lives here rather than in one process's memory.
  yield* sql`
    CREATE TABLE scheduler_jobs (
      name text PRIMARY KEY,
      paused boolean NOT NULL,
      updated_at timestamptz NOT NULL
    )`
})
