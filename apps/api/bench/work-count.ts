import { Logging, Settings } from "@clinic/foundation"
import { RecordingsConfig } from "@clinic/recordings"
import { Database, EmbeddedPostgres } from "@clinic/repository"
import { freePort } from "@clinic/repository/testing/TestServer"
import { StorageConfig } from "@clinic/storage"
/**
 * What one request costs the app in countable work, independent of how busy the machine is: the
 * app as `app-server.ts` composes it, in this process on an embedded PostgreSQL, answers a fixed
 * number of `GET /auth/me` and `POST /bookings` one after another, and this prints per request the
 * fiber run-loop steps, fibers started, spans, SQL statements and log lines (with their bytes).
 *
 *   pnpm exec tsx bench/work-count.ts        (BENCH_COUNT_REQUESTS=500 to change the count)
 */
import { Effect, Layer, Redacted, RuntimeFlags, Supervisor, Tracer } from "effect"
import * as Fs from "node:fs/promises"
import * as Http from "node:http"
import { createRequire } from "node:module"
import * as Os from "node:os"
import * as Path from "node:path"
import { ApiConfig } from "../src/ApiConfig.js"
import { HttpLive } from "../src/Http.js"
import { Recordings } from "../src/Recordings.js"
import { StoresPg } from "../src/Stores.js"

const REQUESTS = Number(process.env.BENCH_COUNT_REQUESTS ?? 500)

const counts = { steps: 0, fibers: 0, spans: 0, statements: 0, logLines: 0, logBytes: 0 }

class Counter extends Supervisor.AbstractSupervisor<void> {
  readonly value = Effect.void
  override onStart() {
    counts.fibers++
  }
  override onEffect() {
    counts.steps++
  }
}

// The same `pg` the SQL client loads: every statement passes through `Client.query`.
const pg = createRequire(import.meta.url)("pg") as {
  Client: { prototype: { query: (...args: Array<unknown>) => unknown } }
}
const query = pg.Client.prototype.query
pg.Client.prototype.query = function(...args: Array<unknown>) {
  counts.statements++
  return query.apply(this, args)
}
// Log lines are counted and dropped (the benchmarks send them to /dev/null too); results go to stderr.
process.stdout.write = ((chunk: string | Uint8Array) => {
  counts.logLines++
  counts.logBytes += chunk.length
  return true
}) as typeof process.stdout.write

const counting = Layer.unwrapEffect(Effect.map(Effect.tracer, (tracer) =>
  Layer.setTracer(Tracer.make({
    span: (...args) => {
      counts.spans++
      return tracer.span(...args)
    },
    context: tracer.context
  }))))

const measure = async (label: string, send: () => Promise<Response>, expected: number) => {
  for (let i = 0; i < 50; i++) await send()
  const before = { ...counts }
  for (let i = 0; i < REQUESTS; i++) {
    const response = await send()
    await response.arrayBuffer()
    if (response.status !== expected) throw new Error(`${label}: ${response.status}`)
  }
  const per = (key: keyof typeof counts) => ((counts[key] - before[key]) / REQUESTS).toFixed(1)
  console.error(
    `| ${label} | ${per("steps")} | ${per("fibers")} | ${per("spans")} | ${per("statements")} | ${per("logLines")} | ${
      per("logBytes")
    } |`
  )
}

const program = Effect.gen(function*() {
  const dir = yield* Effect.acquireRelease(
    Effect.promise(() =>
      Fs.mkdtemp(Path.join(Os.tmpdir(), "clinic-count-")).then(async (d) => (await Fs.chmod(d, 0o755), d))
    ),
    (d) => Effect.promise(() => Fs.rm(d, { recursive: true, force: true }))
  )
  const server = yield* EmbeddedPostgres.start({ dataDir: Path.join(dir, "pg"), port: yield* freePort, fsync: false })
  const port = yield* freePort
  process.env.DATABASE_URL = Redacted.value(server.url)
  process.env.API_PORT = String(port)
  process.env.CLINIC_AUTH_SESSION_MEDIA_DIR = Path.join(dir, "media")
  const app = HttpLive.pipe(
    Layer.provide(Recordings),
    Layer.provide(StoresPg),
    Layer.provide(Database.layer),
    Layer.provide(
      Settings.layer(ApiConfig, Database.DatabaseConfig, RecordingsConfig.RecordingsConfig, StorageConfig.StorageConfig)
    ),
    Layer.provide(counting),
    Layer.provide(Layer.merge(Supervisor.addSupervisor(new Counter()), RuntimeFlags.enableOpSupervision)),
    Layer.provide(Logging.layer)
  )
  yield* Layer.launch(app).pipe(
    Effect.tapErrorCause((cause) => Effect.sync(() => console.error(String(cause)))),
    Effect.forkScoped
  )
  const api = `http://127.0.0.1:${port}`
  const agent = new Http.Agent({ keepAlive: true })
  // node:http sends a small request's headers and body in one write, as the bookings bench does
  // (`fetch` sends them apart).
  const post = (path: string, body: unknown, token?: string) =>
    new Promise<Response>((resolve, reject) => {
      const text = JSON.stringify(body)
      const request = Http.request(`${api}${path}`, {
        method: "POST",
        agent,
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(text),
          ...(token ? { authorization: `Bearer ${token}` } : {})
        }
      }, (response) => {
        const chunks: Array<Buffer> = []
        response.on("data", (chunk: Buffer) => chunks.push(chunk))
        response.on("end", () => resolve(new Response(Buffer.concat(chunks), { status: response.statusCode! })))
      })
      request.on("error", reject)
      request.end(text)
    })
  yield* Effect.promise(async () => {
    for (let i = 0; i < 300; i++) {
      if (await fetch(`${api}/health`).then((r) => r.ok, () => false)) break
      await new Promise((r) => setTimeout(r, 200))
    }
    const email = "count@clinic.test"
    await post("/auth/register", { email, name: "Count", password: "benchmark password" })
    const { token } = (await (await post("/auth/login", { email, password: "benchmark password" })).json()) as {
      token: string
    }
    const { id: patientId } = (await (await post("/patients", { name: "Count Patient" }, token)).json()) as {
      id: string
    }
    console.error("| request | run-loop steps | fibers started | spans | SQL statements | log lines | log bytes |")
    console.error("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    await measure("GET /auth/me", () => fetch(`${api}/auth/me`, { headers: { authorization: `Bearer ${token}` } }), 200)
    let slot = 0
    const base = Date.parse("2030-01-01T00:00:00Z")
    await measure("POST /bookings", () => {
      const i = slot++
      return post("/bookings", {
        patientId,
        startsAt: new Date(base + i * 3_600_000).toISOString(),
        endsAt: new Date(base + i * 3_600_000 + 1_800_000).toISOString()
      }, token)
    }, 201)
  })
}).pipe(Effect.scoped)

Effect.runPromise(program).then(() => process.exit(0), (error) => {
  console.error(error)
  process.exit(1)
})
