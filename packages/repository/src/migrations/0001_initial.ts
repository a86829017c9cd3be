import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE EXTENSION IF NOT EXISTS btree_gist`

  yield* sql`
    CREATE TABLE users (
      id uuid PRIMARY KEY,
      email text NOT NULL UNIQUE,
      name text NOT NULL,
      role text NOT NULL CHECK (role IN ('therapist', 'admin')),
      password_hash text NOT NULL,
      created_at timestamptz NOT NULL
    )`

  yield* sql`
    CREATE TABLE auth_sessions (
      id uuid PRIMARY KEY,
      user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      token_hash text NOT NULL UNIQUE,
      created_at timestamptz NOT NULL,
      last_active_at timestamptz NOT NULL,
      expires_at timestamptz NOT NULL,
      user_agent text,
      ip text
    )`
  yield* sql`CREATE INDEX auth_sessions_user_id_idx ON auth_sessions (user_id)`
  yield* sql`CREATE INDEX auth_sessions_expires_at_idx ON auth_sessions (expires_at)`
  yield* sql`CREATE INDEX auth_sessions_last_active_at_idx ON auth_sessions (last_active_at)`

  // The cascade needs its index: without it every deleted session scans session_media.
  yield* sql`
    CREATE TABLE session_media (
      id uuid PRIMARY KEY,
      auth_session_id uuid NOT NULL REFERENCES auth_sessions (id) ON DELETE CASCADE,
      kind text NOT NULL CHECK (kind IN ('image', 'video')),
      file_path text NOT NULL,
      size_bytes bigint NOT NULL CHECK (size_bytes >= 0),
      created_at timestamptz NOT NULL
    )`
  yield* sql`CREATE INDEX session_media_auth_session_id_idx ON session_media (auth_session_id)`

  yield* sql`
    CREATE TABLE patients (
      id uuid PRIMARY KEY,
      therapist_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      name text NOT NULL,
      email text,
      phone text,
      notes text,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL
    )`
  yield* sql`CREATE INDEX patients_therapist_id_idx ON patients (therapist_id, created_at, id)`

  // Active bookings (pending or confirmed) of one therapist never overlap; a stale pending hold is
  // flipped to expired in the same transaction as the insert that needs its slot.
  yield* sql`
    CREATE TABLE bookings (
      id uuid PRIMARY KEY,
      therapist_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      patient_id uuid NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
      starts_at timestamptz NOT NULL,
      ends_at timestamptz NOT NULL,
      status text NOT NULL CHECK (status IN ('pending', 'confirmed', 'cancelled', 'expired')),
      hold_expires_at timestamptz,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      CHECK (ends_at > starts_at),
      CHECK (status <> 'pending' OR hold_expires_at IS NOT NULL),
      CONSTRAINT bookings_no_overlap EXCLUDE USING gist (
        therapist_id WITH =,
        tstzrange(starts_at, ends_at) WITH &&
      ) WHERE (status IN ('pending', 'confirmed'))
    )`
  yield* sql`CREATE INDEX bookings_status_hold_expires_at_idx ON bookings (status, hold_expires_at)`
  yield* sql`CREATE INDEX bookings_therapist_id_starts_at_idx ON bookings (therapist_id, starts_at, id)`
  yield* sql`CREATE INDEX bookings_patient_id_idx ON bookings (patient_id)`
})
