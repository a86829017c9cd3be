import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  // One feed token per therapist: making a new one replaces (revokes) the old. Only the SHA-256 of
  // the token is kept, as for session tokens.
  yield* sql`
    CREATE TABLE calendar_feed_tokens (
      therapist_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
      token_hash text NOT NULL UNIQUE,
      created_at timestamptz NOT NULL
    )`

  yield* sql`
    CREATE TABLE external_calendars (
      id uuid PRIMARY KEY,
      therapist_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      url text NOT NULL,
      label text,
      created_at timestamptz NOT NULL,
      last_synced_at timestamptz,
      last_attempt_at timestamptz,
      last_error text,
      UNIQUE (therapist_id, url)
    )`

  // The busy times of the last successful import of each feed. therapist_id is copied from the feed
  // so that the booking insert checks one index.
  yield* sql`
    CREATE TABLE external_busy (
      calendar_id uuid NOT NULL REFERENCES external_calendars (id) ON DELETE CASCADE,
      therapist_id uuid NOT NULL,
      starts_at timestamptz NOT NULL,
      ends_at timestamptz NOT NULL,
      CHECK (ends_at > starts_at)
    )`
  yield* sql`CREATE INDEX external_busy_calendar_id_idx ON external_busy (calendar_id)`
  yield* sql`
    CREATE INDEX external_busy_therapist_range_idx
    ON external_busy USING gist (therapist_id, tstzrange(starts_at, ends_at))`
})
