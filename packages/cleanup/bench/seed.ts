import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/**
 * `sessions` expired auth sessions (1000 users, expiring one second apart), 10% of them with one
 * media row, on an emptied table, then ANALYZE: the backlog the cleanup benches delete.
 */
export const seed = (sessions: number) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`TRUNCATE auth_sessions, auth_session_media`
    yield* sql.unsafe(`
    INSERT INTO users (id, email, name, role, password_hash, created_at)
    SELECT gen_random_uuid(), 'bench' || i || '@clinic.test', 'Bench', 'therapist', 'x', now()
    FROM generate_series(1, 1000) i ON CONFLICT DO NOTHING`)
    yield* sql.unsafe(`
    INSERT INTO auth_sessions (id, user_id, token_hash, created_at, last_active_at, expires_at)
    SELECT gen_random_uuid(), u.ids[1 + i % 1000], md5(i::text), now() - interval '40 days',
           now() - interval '10 days', now() - interval '1 day' - i * interval '1 second'
    FROM generate_series(1, ${sessions}) i, (SELECT array_agg(id) AS ids FROM users) u`)
    yield* sql.unsafe(`
    INSERT INTO auth_session_media (id, auth_session_id, kind, file_path, size_bytes, created_at)
    SELECT gen_random_uuid(), id, 'image', 'sessions/' || id || '.png', 1000, now()
    FROM (SELECT id, row_number() OVER () AS n FROM auth_sessions) s WHERE n % 10 = 0`)
    yield* sql`ANALYZE`
  })
