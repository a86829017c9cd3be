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

  // Rows die with their patient or therapist; the audio files do not, so whoever deletes a patient
  // removes their recordings' files first (RecordingRepo.listStoredPaths).
  yield* sql`
    CREATE TABLE recordings (
      id uuid PRIMARY KEY,
      therapist_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      patient_id uuid NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
      status text NOT NULL CHECK (
        status IN ('uploaded', 'transcribing', 'transcribed', 'extracting', 'completed', 'failed')
      ),
      original_filename text NOT NULL,
      stored_path text NOT NULL UNIQUE,
      format text NOT NULL CHECK (format IN ('mp3', 'wav', 'm4a')),
      mime_type text NOT NULL,
      size_bytes bigint NOT NULL CHECK (size_bytes >= 0),
      sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
      error text,
      attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL
    )`
  // The list reads newest first per therapist, optionally per patient or status.
  yield* sql`CREATE INDEX recordings_therapist_created_idx ON recordings (therapist_id, created_at DESC, id DESC)`
  yield* sql`CREATE INDEX recordings_patient_created_idx ON recordings (patient_id, created_at DESC, id DESC)`
  yield* sql`CREATE INDEX recordings_status_idx ON recordings (status, updated_at)`

  yield* sql`
    CREATE TABLE recording_transcripts (
      recording_id uuid PRIMARY KEY REFERENCES recordings (id) ON DELETE CASCADE,
      text text NOT NULL,
      language text,
      source text NOT NULL CHECK (source IN ('provider', 'therapist')),
      created_at timestamptz NOT NULL
    )`

  yield* sql`
    CREATE TABLE recording_notes (
      recording_id uuid PRIMARY KEY REFERENCES recordings (id) ON DELETE CASCADE,
      notes jsonb NOT NULL,
      model text NOT NULL,
      created_at timestamptz NOT NULL
    )`
})
