/**
 * The benchmark's yardstick: `GET /auth/me` on bare `node:http` + `pg`, doing what the Effect app
 * does per request: look the session and its user up by token digest (one query, a join), compare
 * in constant time, check expiry and idleness, touch at most once per interval. No framework, no schema
 * validation, no tracing.
 */
import * as Crypto from "node:crypto"
import * as Http from "node:http"
import Pg from "pg"

const port = Number(process.env.API_PORT ?? 3000)
const pool = new Pg.Pool({
  connectionString: process.env.DATABASE_URL,
  max: Number(process.env.CLINIC_PG_MAX_CONNECTIONS ?? 10)
})
const IDLE_MS = 24 * 3600_000
const TOUCH_MS = 5 * 60_000

const unauthorized = (res: Http.ServerResponse) => {
  res.writeHead(401, { "content-type": "application/json" })
  res.end(JSON.stringify({ _tag: "Unauthorized", message: "Missing or invalid bearer token" }))
}

const me = async (req: Http.IncomingMessage, res: Http.ServerResponse) => {
  const token = (req.headers.authorization ?? "").slice("Bearer ".length).trim()
  if (!/^[A-Za-z0-9_-]{16,128}$/.test(token)) return unauthorized(res)
  const digest = Crypto.createHash("sha256").update(token, "utf8").digest("hex")
  const { rows } = await pool.query(
    `SELECT s.*, u.email AS user_email, u.name AS user_name, u.role AS user_role, u.created_at AS user_created_at
     FROM auth_sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1`,
    [digest]
  )
  const session = rows[0]
  if (!session) return unauthorized(res)
  if (!Crypto.timingSafeEqual(Buffer.from(session.token_hash, "hex"), Buffer.from(digest, "hex"))) {
    return unauthorized(res)
  }
  const now = Date.now()
  const lastActive = session.last_active_at.getTime()
  if (now >= session.expires_at.getTime() || now >= lastActive + IDLE_MS) return unauthorized(res)
  if (now >= lastActive + TOUCH_MS) {
    const at = new Date(now).toISOString()
    await pool.query("UPDATE auth_sessions SET last_active_at = $1 WHERE id = $2 AND last_active_at < $1", [
      at,
      session.id
    ])
  }
  res.writeHead(200, { "content-type": "application/json" })
  res.end(JSON.stringify({
    id: session.user_id,
    email: session.user_email,
    name: session.user_name,
    role: session.user_role,
    createdAt: session.user_created_at.toISOString()
  }))
}

const server = Http.createServer((req, res) => {
  if (req.method === "GET" && req.url === "/auth/me") {
    me(req, res).catch(() => {
      res.writeHead(500)
      res.end()
    })
  } else {
    res.writeHead(404)
    res.end()
  }
})
server.listen(port, "127.0.0.1")
process.on("SIGTERM", () => server.close(() => pool.end().then(() => process.exit(0))))
