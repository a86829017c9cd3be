/**
 * Hostile input against the real HTTP server: fast-check draws requests for every operation of
 * the OpenAPI document (odd path parameters, query strings, JSON bodies, other content types,
 * garbage), with and without credentials, and each must be answered, below 500, in time.
 *
 * Seeded: `FUZZ_SEED=<n>` replays a run (the seed is printed, and a failure prints the request).
 * `FUZZ_RUNS` changes the number of requests.
 */
import { ClinicApi } from "@clinic/domain"
import { AuthSessionRepo } from "@clinic/repository"
import { HttpServer, OpenApi } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Layer, Logger, LogLevel, Redacted, Runtime } from "effect"
import fc from "fast-check"
import * as Http from "node:http"
import * as Tokens from "../src/auth/Tokens.js"
import { client, makeTherapist, memoryServer, postgresServer } from "./support/TestApi.js"

const SEED = Number(process.env.FUZZ_SEED ?? 20261130)
const REQUEST_TIMEOUT_MS = 10_000

// ---- the operations, from the OpenAPI document ------------------------------------------------

interface Operation {
  readonly method: string
  readonly path: string
  readonly pathParams: ReadonlyArray<string>
  readonly queryParams: ReadonlyArray<{ readonly name: string; readonly values: ReadonlyArray<string> }>
  readonly bodyType: "json" | "multipart" | "none"
  readonly bodyFields: ReadonlyArray<string>
}

type Json = Record<string, unknown>

const operations = (): ReadonlyArray<Operation> => {
  const doc = OpenApi.fromApi(ClinicApi) as unknown as {
    readonly paths: Record<string, Record<string, Json>>
    readonly components: { readonly schemas: Record<string, Json> }
  }
  const resolve = (schema: Json | undefined): Json | undefined => {
    const ref = schema?.$ref
    return typeof ref === "string" ? doc.components.schemas[ref.split("/").pop()!] : schema
  }
  const result: Array<Operation> = []
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const parameters = (op.parameters ?? []) as ReadonlyArray<{ in: string; name: string; schema?: Json }>
      const content = ((op.requestBody as Json | undefined)?.content ?? {}) as Record<string, { schema?: Json }>
      const jsonSchema = resolve(content["application/json"]?.schema)
      result.push({
        method: method.toUpperCase(),
        path,
        pathParams: parameters.filter((p) => p.in === "path").map((p) => p.name),
        queryParams: parameters.filter((p) => p.in === "query").map((p) => ({
          name: p.name,
          values: ((resolve(p.schema)?.enum ?? []) as ReadonlyArray<string>)
        })),
        bodyType: content["application/json"] ? "json" : content["multipart/form-data"] ? "multipart" : "none",
        bodyFields: Object.keys((jsonSchema?.properties ?? {}) as Json)
      })
    }
  }
  return result
}

// ---- requests ---------------------------------------------------------------------------------

interface FuzzRequest {
  readonly method: string
  readonly path: string
  readonly headers: Record<string, string>
  readonly body: string | undefined
  readonly credentials: "none" | "valid" | "garbage"
}

/** Ids that exist, so that some requests get past "not found". */
interface Known {
  readonly ids: ReadonlyArray<string>
}

const printable = fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)) })

const edgeStrings = [
  "",
  " ",
  "0",
  "-1",
  "1e309",
  "NaN",
  "null",
  "true",
  "[]",
  "{}",
  "..",
  "../../etc/passwd",
  "%00",
  "\u0000",
  "é",
  "😀",
  "\ud800",
  "a".repeat(10_000),
  "00000000-0000-0000-0000-000000000000",
  "ffffffff-ffff-ffff-ffff-ffffffffffff",
  "1970-01-01T00:00:00Z",
  "9999-12-31T23:59:59.999Z",
  "2026-02-30T10:00:00Z",
  "not@an@email",
  "ADA@CLINIC.TEST",
  "<script>alert(1)</script>",
  "' OR 1=1 --"
]

/** Percent-encoding; a lone surrogate (which has none) becomes the bytes of one, invalid UTF-8. */
const encode = (text: string) => {
  try {
    return encodeURIComponent(text)
  } catch {
    return "%ED%A0%80"
  }
}

const value = (known: Known): fc.Arbitrary<unknown> =>
  fc.oneof(
    fc.constantFrom(...edgeStrings),
    fc.constantFrom(...known.ids),
    fc.string(),
    fc.emailAddress(),
    fc.uuid(),
    fc.date({ min: new Date("1900-01-01"), max: new Date("2200-01-01"), noInvalidDate: true }).map((d) =>
      d.toISOString()
    ),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.jsonValue({ maxDepth: 3 })
  )

/** A path parameter: an id, an edge value, or raw bytes (invalid percent-encoding included). */
const pathParam = (known: Known) =>
  fc.oneof(
    fc.constantFrom(...known.ids),
    fc.uuid(),
    fc.constantFrom(...edgeStrings).map(encode),
    fc.string().map(encode),
    printable.map((s) => s.replace(/[/?#]/g, "")),
    fc.constantFrom("%", "%zz", "%c0%af", "%2F", "%00", "..", ".", "a%2Fb", "x.ics", "%E2%82", "%ff%fe")
  )

const queryString = (op: Operation, known: Known) =>
  fc.array(
    fc.tuple(
      fc.oneof(
        fc.constantFrom(...(op.queryParams.length > 0 ? op.queryParams.map((p) => p.name) : ["x"])),
        printable
      ),
      fc.oneof(
        fc.constantFrom(...op.queryParams.flatMap((p) => p.values), "", "0", "-1", "101", "1.5", "abc"),
        value(known).map((v) => (typeof v === "string" ? v : JSON.stringify(v)) ?? "")
      ),
      fc.boolean()
    ),
    { maxLength: 5 }
  ).map((pairs) =>
    pairs.length === 0
      ? ""
      : "?" +
        pairs.map(([k, v, raw]) => raw ? `${k}=${encode(v).replace(/%25/g, "%")}` : `${encode(k)}=${encode(v)}`).join(
          "&"
        )
  )

/** A body and its content type: JSON shaped like the operation's, any JSON, or something else. */
const body = (op: Operation, known: Known): fc.Arbitrary<{ type: string | undefined; text: string | undefined }> =>
  fc.oneof(
    // Shaped: the operation's fields with odd values, some left out, some extra.
    fc.record({
      fields: fc.subarray([...op.bodyFields, "extra", "__proto__", "constructor"]),
      values: fc.array(value(known), { minLength: 8, maxLength: 8 })
    }).map(({ fields, values }) => ({
      type: "application/json",
      text: JSON.stringify(Object.fromEntries(fields.map((f, i) => [f, values[i % values.length]])))
    })),
    fc.jsonValue({ maxDepth: 4 }).map((v) => ({ type: "application/json", text: JSON.stringify(v) ?? "null" })),
    fc.oneof(
      fc.constant("{"),
      fc.constant("[".repeat(5000)),
      fc.constant("{\"a\":".repeat(100) + "1" + "}".repeat(100)),
      fc.constant("\u0000\u0001\u0002"),
      fc.string()
    ).map((text) => ({ type: "application/json", text })),
    fc.tuple(
      fc.constantFrom(
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "multipart/form-data; boundary=",
        "multipart/form-data; boundary=xyz",
        "application/json; charset=latin1",
        "application/octet-stream",
        "image/png",
        ";;;",
        "application/json, text/plain"
      ),
      fc.oneof(
        fc.string(),
        fc.constant(
          "--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp3\"\r\n\r\nID3\r\n--xyz--\r\n"
        ),
        fc.constant("--xyz\r\nContent-Disposition: form-data; name=\"patientId\"\r\n\r\n"),
        fc.constant("email=a%40b.c&password=x")
      )
    ).map(([type, text]) => ({ type, text })),
    fc.constant({ type: undefined, text: undefined }),
    fc.constant({ type: "application/json", text: "" })
  )

const request = (ops: ReadonlyArray<Operation>, known: Known): fc.Arbitrary<FuzzRequest> =>
  fc.constantFrom(...ops).chain((op) =>
    fc.record({
      method: fc.oneof(
        { weight: 9, arbitrary: fc.constant(op.method) },
        { weight: 1, arbitrary: fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD") }
      ),
      path: fc.tuple(...op.pathParams.map(() => pathParam(known))).map((values) =>
        op.pathParams.reduce((path, name, i) => path.replace(`{${name}}`, values[i]), op.path)
      ),
      query: queryString(op, known),
      body: body(op, known),
      idempotencyKey: fc.option(fc.oneof(printable, fc.constant("x".repeat(300))), { nil: undefined }),
      credentials: fc.constantFrom("none" as const, "valid" as const, "valid" as const, "garbage" as const),
      garbageToken: fc.oneof(printable, fc.constant("Basic abc"), fc.constant(""))
    }).map(({ body, credentials, garbageToken, idempotencyKey, method, path, query }) => ({
      method,
      path: path + query,
      headers: {
        ...(body.type === undefined ? {} : { "content-type": body.type }),
        ...(idempotencyKey === undefined ? {} : { "idempotency-key": idempotencyKey }),
        ...(credentials === "garbage" ? { authorization: `Bearer ${garbageToken}` } : {})
      },
      body: body.text,
      credentials
    }))
  )

// ---- sending ------------------------------------------------------------------------------------

type Outcome =
  | { readonly _tag: "Answered"; readonly status: number; readonly body: string }
  | { readonly _tag: "TimedOut" }
  | { readonly _tag: "Failed"; readonly error: string }

// One kept-alive connection, as browsers and API clients use: a request answered without its body
// being read must leave the connection fit for the next one.
const agent = new Http.Agent({ keepAlive: true, maxSockets: 1 })

const send = (port: number, req: FuzzRequest, token: string | undefined) =>
  new Promise<Outcome>((resolve) => {
    // Node's client frames no body of a GET, HEAD or DELETE by itself: unframed, the body would be
    // read as the next request on the connection. Every real client declares its length.
    const headers = {
      ...req.headers,
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...(req.body === undefined ? {} : { "content-length": String(Buffer.byteLength(req.body)) })
    }
    const outgoing = Http.request(
      { host: "127.0.0.1", port, method: req.method, path: req.path, headers, agent },
      (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (chunk: Buffer) => chunks.push(chunk))
        res.on("end", () =>
          resolve({ _tag: "Answered", status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }))
        res.on("error", (error) =>
          resolve({ _tag: "Failed", error: error.message }))
      }
    )
    outgoing.setTimeout(REQUEST_TIMEOUT_MS, () => {
      outgoing.destroy()
      resolve({ _tag: "TimedOut" })
    })
    outgoing.on("error", (error) => resolve({ _tag: "Failed", error: error.message }))
    outgoing.end(req.body)
  })

const describeRequest = (req: FuzzRequest) =>
  `${req.method} ${req.path} (${req.credentials} credentials) ${JSON.stringify(req.headers)} body=${
    JSON.stringify(req.body?.slice(0, 300))
  }`

/**
 * `runs` requests drawn with `seed`, each answered within the timeout and below 500 (but the
 * memory setup's `/ready`, which is a 503 by design: it has no database). Returns the statuses seen.
 */
const fuzz = (runs: number, seed: number, readyIs503: boolean) =>
  Effect.gen(function*() {
    const server = yield* HttpServer.HttpServer
    const port = server.address._tag === "TcpAddress" ? server.address.port : 0
    const sessions = yield* AuthSessionRepo
    const user = yield* makeTherapist()
    // A fresh session per credentialed request: the fuzzer may log out or revoke the one it used.
    const mint = Effect.gen(function*() {
      const token = Tokens.generate()
      const now = yield* DateTime.now
      yield* sessions.insert({
        userId: user.id,
        tokenHash: Tokens.hash(token),
        expiresAt: DateTime.add(now, { days: 1 }),
        userAgent: "fuzz",
        ip: null
      })
      return token
    })
    const api = yield* client(Redacted.make(yield* mint))
    const patient = yield* api.patients.create({ payload: { name: "Pat Patient" } })
    const booking = yield* api.bookings.create({
      headers: {},
      payload: {
        patientId: patient.id,
        startsAt: DateTime.add(yield* DateTime.now, { days: 2 }),
        endsAt: DateTime.add(yield* DateTime.now, { days: 2, minutes: 50 })
      }
    })
    const runtime = yield* Effect.runtime<never>()
    const known: Known = { ids: [user.id, patient.id, booking.id] }
    const statuses = new Map<number, number>()
    yield* Effect.logInfo(`fuzz: ${runs} requests, FUZZ_SEED=${seed}`)
    const property = fc.asyncProperty(request(operations(), known), async (req) => {
      const token = req.credentials === "valid" ? await Runtime.runPromise(runtime)(mint) : undefined
      const outcome = await send(port, req, token)
      if (outcome._tag !== "Answered") {
        throw new Error(
          `not answered (${outcome._tag === "TimedOut" ? "timed out" : outcome.error}): ${describeRequest(req)}`
        )
      }
      statuses.set(outcome.status, (statuses.get(outcome.status) ?? 0) + 1)
      const expected503 = readyIs503 && (req.method === "GET" || req.method === "HEAD") &&
        req.path.split("?")[0] === "/ready"
      if (outcome.status >= 500 && !(expected503 && outcome.status === 503)) {
        throw new Error(`${outcome.status} for ${describeRequest(req)}: ${outcome.body.slice(0, 500)}`)
      }
    })
    yield* Effect.tryPromise({
      try: () => fc.assert(property, { seed, numRuns: runs, endOnFailure: true }),
      catch: (error) => new Error(String(error instanceof Error ? error.message : error))
    })
    return statuses
  })

/**
 * The server without its access log: thousands of "Sent HTTP response" lines would cost the run
 * more than the requests. Warnings and errors (a defect behind a 500) still show.
 */
const quiet = Layer.provide(Logger.minimumLogLevel(LogLevel.Warning))

describe("fuzz: every operation of the OpenAPI document", () => {
  it.live("memory stores: thousands of requests, each answered in time and below 500", () =>
    Effect.gen(function*() {
      const runs = Number(process.env.FUZZ_RUNS ?? 3000)
      const statuses = yield* fuzz(runs, SEED, true)
      const total = [...statuses.values()].reduce((a, b) => a + b, 0)
      assert.strictEqual(total, runs)
      // The run reached past validation: some requests succeeded, some were refused as malformed.
      for (const status of [200, 400, 401, 404]) assert.isAbove(statuses.get(status) ?? 0, 0, `no ${status} seen`)
      yield* Effect.logInfo(`fuzz statuses: ${JSON.stringify(Object.fromEntries(statuses))}`)
    }).pipe(
      Effect.provide(
        Layer.merge(
          memoryServer({ signIn: "tokens", settings: { API_BODY_IDLE_TIMEOUT: "5 seconds" } }).pipe(quiet),
          NodeFileSystem.layer
        )
      )
    ), 300_000)

  it.live("Postgres stores: a smaller run", () =>
    Effect.gen(function*() {
      const runs = Math.ceil(Number(process.env.FUZZ_RUNS ?? 3000) / 6)
      const statuses = yield* fuzz(runs, SEED + 1, false)
      assert.strictEqual([...statuses.values()].reduce((a, b) => a + b, 0), runs)
      yield* Effect.logInfo(`fuzz statuses (Postgres): ${JSON.stringify(Object.fromEntries(statuses))}`)
    }).pipe(
      Effect.provide(
        Layer.merge(
          postgresServer({ signIn: "tokens", settings: { API_BODY_IDLE_TIMEOUT: "5 seconds" } }).pipe(quiet),
          NodeFileSystem.layer
        )
      )
    ), 300_000)
})
