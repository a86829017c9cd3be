// The baseline: POST /bookings on bare node:http + pg, running the same queries as the Effect app:
// the session and its user by the bearer token's SHA-256 (one query, a join; constant-time
// comparison, expiry and idle checks, activity touched at most once per 5 minutes), patient ownership, then in one
// transaction: expire lapsed holds in the way, check external busy times, insert, write the
// outbox event and notify. No framework, no schema validation beyond what the checks need.
import { Buffer } from "node:buffer"
import crypto from "node:crypto"
import http from "node:http"
import process from "node:process"
import pg from "pg"

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.POOL_SIZE ?? 10) })
const HOLD_MS = 15 * 60 * 1000
const IDLE_MS = 24 * 3600_000
const TOUCH_MS = 5 * 60_000
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

const send = (res, status, body) => {
  const json = JSON.stringify(body)
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(json) })
  res.end(json)
}

const authenticate = async (req) => {
  const token = (req.headers.authorization ?? "").slice("Bearer ".length).trim()
  if (!/^[A-Za-z0-9_-]{16,128}$/.test(token)) return undefined
  const digest = crypto.createHash("sha256").update(token, "utf8").digest("hex")
  const { rows } = await pool.query(
    `SELECT s.*, u.email AS user_email, u.name AS user_name, u.role AS user_role, u.created_at AS user_created_at
     FROM auth_sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1`,
    [digest]
  )
  const session = rows[0]
  if (!session || !crypto.timingSafeEqual(Buffer.from(session.token_hash, "hex"), Buffer.from(digest, "hex"))) {
    return undefined
  }
  const now = Date.now()
  const lastActive = session.last_active_at.getTime()
  if (now >= session.expires_at.getTime() || now >= lastActive + IDLE_MS) return undefined
  if (now >= lastActive + TOUCH_MS) {
    const at = new Date(now).toISOString()
    await pool.query("UPDATE auth_sessions SET last_active_at = $1 WHERE id = $2 AND last_active_at < $1", [
      at,
      session.id
    ])
  }
  return session.user_id
}

const createBooking = async (req, res) => {
  let raw = ""
  for await (const chunk of req) raw += chunk
  const userId = await authenticate(req)
  if (userId === undefined) return send(res, 401, { _tag: "Unauthorized", message: "Missing or invalid bearer token" })
  let input
  try {
    input = JSON.parse(raw)
  } catch {
    return send(res, 400, { _tag: "HttpApiDecodeError", message: "body: not valid JSON" })
  }
  const startsAt = new Date(input.startsAt)
  const endsAt = new Date(input.endsAt)
  if (!UUID.test(input.patientId) || isNaN(startsAt) || isNaN(endsAt) || endsAt <= startsAt) {
    return send(res, 400, { _tag: "HttpApiDecodeError", message: "invalid booking" })
  }
  const patient = await pool.query("SELECT * FROM patients WHERE id = $1 AND therapist_id = $2", [
    input.patientId,
    userId
  ])
  if (patient.rowCount === 0) return send(res, 404, { _tag: "NotFound", message: "Patient not found" })
  const now = new Date().toISOString()
  const client = await pool.connect()
  try {
    await client.query("BEGIN")
    await client.query(
      `UPDATE bookings SET status = 'expired', updated_at = $1
       WHERE therapist_id = $2 AND status = 'pending' AND hold_expires_at <= $1
         AND tstzrange(starts_at, ends_at) && tstzrange($3::timestamptz, $4::timestamptz)`,
      [now, userId, startsAt.toISOString(), endsAt.toISOString()]
    )
    const busy = await client.query(
      `SELECT calendar_id FROM external_busy
       WHERE therapist_id = $1 AND tstzrange(starts_at, ends_at) && tstzrange($2::timestamptz, $3::timestamptz)
       LIMIT 1`,
      [userId, startsAt.toISOString(), endsAt.toISOString()]
    )
    if (busy.rowCount > 0) {
      await client.query("ROLLBACK")
      return send(res, 409, { _tag: "BusyInExternalCalendar", message: "busy" })
    }
    const inserted = await client.query(
      `INSERT INTO bookings (id, therapist_id, patient_id, starts_at, ends_at, status, hold_expires_at, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $7) RETURNING *`,
      [
        crypto.randomUUID(),
        userId,
        input.patientId,
        startsAt.toISOString(),
        endsAt.toISOString(),
        new Date(Date.now() + HOLD_MS).toISOString(),
        now
      ]
    )
    const row = inserted.rows[0]
    const eventId = crypto.randomUUID()
    await client.query(
      "INSERT INTO outbox_events (id, type, payload, occurred_at) VALUES ($1, $2, $3::jsonb, $4)",
      [
        eventId,
        "booking.created",
        JSON.stringify({
          bookingId: row.id,
          therapistId: row.therapist_id,
          patientId: row.patient_id,
          startsAt: row.starts_at.toISOString(),
          endsAt: row.ends_at.toISOString(),
          holdExpiresAt: row.hold_expires_at.toISOString()
        }),
        now
      ]
    )
    await client.query("SELECT pg_notify($1, $2)", ["clinic_outbox", eventId])
    await client.query("COMMIT")
    return send(res, 201, {
      id: row.id,
      therapistId: row.therapist_id,
      patientId: row.patient_id,
      startsAt: row.starts_at.toISOString(),
      endsAt: row.ends_at.toISOString(),
      status: row.status,
      holdExpiresAt: row.hold_expires_at.toISOString(),
      createdAt: row.created_at.toISOString(),
      updatedAt: row.updated_at.toISOString()
    })
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined)
    if (error.code === "23P01") return send(res, 409, { _tag: "BookingOverlap", message: "overlap" })
    throw error
  } finally {
    client.release()
  }
}

const server = http.createServer((req, res) => {
  if (req.method === "POST" && req.url === "/bookings") {
    createBooking(req, res).catch(() => send(res, 500, { _tag: "InternalError", message: "internal error" }))
  } else if (req.url === "/health") {
    send(res, 200, { status: "ok" })
  } else {
    send(res, 404, { _tag: "RouteNotFound", message: "no route" })
  }
})
server.listen(Number(process.env.PORT), "127.0.0.1")
const stop = () => server.close(() => pool.end().then(() => process.exit(0)))
process.on("SIGTERM", stop)
process.on("SIGINT", stop)
