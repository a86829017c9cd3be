import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

// `session_media` read as if it belonged to therapy sessions (recordings); these are the images
// and videos sent during a login session, removed with it. Renamed with its constraints and index
// so that every name in the database says so.
export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE session_media RENAME TO auth_session_media`
  yield* sql`ALTER TABLE auth_session_media RENAME CONSTRAINT session_media_pkey TO auth_session_media_pkey`
  yield* sql`ALTER TABLE auth_session_media
    RENAME CONSTRAINT session_media_auth_session_id_fkey TO auth_session_media_auth_session_id_fkey`
  yield* sql`ALTER TABLE auth_session_media RENAME CONSTRAINT session_media_kind_check TO auth_session_media_kind_check`
  yield* sql`ALTER TABLE auth_session_media
    RENAME CONSTRAINT session_media_size_bytes_check TO auth_session_media_size_bytes_check`
  yield* sql`ALTER INDEX session_media_auth_session_id_idx RENAME TO auth_session_media_auth_session_id_idx`
})
