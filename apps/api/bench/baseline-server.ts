/**
 * The benchmark's yardstick: `GET /auth/me` on bare `node:http` + `pg`, doing what the Effect app
 * does per request: look the session up by token digest, compare in constant time, check expiry
 * and idleness, touch at most once per interval, load the user. No framework, no schema
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
    "SELECT id, user_id, token_hash, created_at, last_active_at, expires_at, user_agent, ip FROM auth_sessions WHERE token_hash = $1",
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
  const users = await pool.query("SELECT id, email, name, role, created_at FROM users WHERE id = $1", [session.user_id])
  const user = users.rows[0]
  if (!user) return unauthorized(res)
  res.writeHead(200, { "content-type": "application/json" })
  res.end(JSON.stringify({
    id: user.id,
    email: user.email,
    name: user.name,
    role: user.role,
    createdAt: user.created_at.toISOString()
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
