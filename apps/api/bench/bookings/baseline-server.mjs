// The baseline: POST /bookings on bare node:http + pg, running the same queries as the Effect app
// (user lookup for the bearer token, patient ownership, then in one transaction: expire lapsed
// holds in the way and insert). No framework, no schema validation beyond what the checks need.
import { Buffer } from "node:buffer"
import crypto from "node:crypto"
import http from "node:http"
import process from "node:process"
import pg from "pg"

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.POOL_SIZE ?? 10) })
const HOLD_MS = 15 * 60 * 1000
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

const send = (res, status, body) => {
  const json = JSON.stringify(body)
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(json) })
  res.end(json)
}

const createBooking = async (req, res) => {
  let raw = ""
  for await (const chunk of req) raw += chunk
  const token = (req.headers.authorization ?? "").replace(/^Bearer /, "")
  if (!UUID.test(token)) return send(res, 401, { _tag: "Unauthorized", message: "Unknown bearer token" })
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
  const user = await pool.query("SELECT id, email, name, role, created_at FROM users WHERE id = $1", [token])
  if (user.rowCount === 0) return send(res, 401, { _tag: "Unauthorized", message: "Unknown bearer token" })
  const patient = await pool.query("SELECT * FROM patients WHERE id = $1 AND therapist_id = $2", [
    input.patientId,
    token
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
      [now, token, startsAt.toISOString(), endsAt.toISOString()]
    )
    const inserted = await client.query(
      `INSERT INTO bookings (id, therapist_id, patient_id, starts_at, ends_at, status, hold_expires_at, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $7) RETURNING *`,
      [
        crypto.randomUUID(),
        token,
        input.patientId,
        startsAt.toISOString(),
        endsAt.toISOString(),
        new Date(Date.now() + HOLD_MS).toISOString(),
        now
      ]
    )
    await client.query("COMMIT")
    const row = inserted.rows[0]
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
