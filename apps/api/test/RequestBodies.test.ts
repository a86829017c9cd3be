import { HttpClientRequest, HttpServer } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Http from "node:http"
import { audioBytes, heads } from "../../../packages/recordings/test/audio.js"
import {
  memoryServer,
  rawExchange,
  rawHead,
  send,
  startClock,
  storedFiles,
  therapistWithPatient,
  upload
} from "./support/TestApi.js"

const MiB = 1024 * 1024

const withServer = (settings: Record<string, string> = {}) =>
  Effect.provide(Layer.merge(memoryServer({ settings }), NodeFileSystem.layer))

const json = (method: "POST" | "PATCH", path: string, body: string, contentType = "application/json") =>
  HttpClientRequest.make(method)(path).pipe(HttpClientRequest.bodyText(body, contentType))

const parsed = (body: string) => {
  try {
    return JSON.parse(body)
  } catch {
    return { unparsed: body }
  }
}

/** A multipart body with `patientId` and an mp3 `file`, as bytes, with the given boundary. */
const form = (boundary: string, patientId: string, filename = "session.mp3") =>
  Buffer.concat([
    Buffer.from(
      `--${boundary}\r\ncontent-disposition: form-data; name="patientId"\r\n\r\n${patientId}\r\n` +
        `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="${filename}"\r\n` +
        `content-type: audio/mpeg\r\n\r\n`
    ),
    audioBytes(heads.mp3Id3, 4096),
    Buffer.from(`\r\n--${boundary}--\r\n`)
  ])

describe("request bodies: size limits", () => {
  it.effect("a declared body over the JSON limit is a 413 on every kind of endpoint, answered before it is read", () =>
    Effect.gen(function*() {
      yield* startClock
      const { patient, user } = yield* therapistWithPatient
      const endpoints: Array<readonly [string, string]> = [
        ["POST", "/auth/register"],
        ["POST", "/auth/login"],
        ["POST", "/patients"],
        ["PATCH", `/patients/${patient.id}`],
        ["POST", "/bookings"],
        ["POST", `/bookings/${crypto.randomUUID()}/confirm`],
        ["DELETE", `/recordings/${crypto.randomUUID()}`],
        ["POST", "/calendar/external"]
      ]
      for (const [method, path] of endpoints) {
        // 10 MB declared, 100 bytes sent, the client's side kept open: only an answer that does
        // not wait for the rest arrives.
        const head = rawHead(method, path, user.id, { "content-type": "application/json", "content-length": 10 * MiB })
        const answer = yield* rawExchange([head, "{" + " ".repeat(99)], { end: false })
        assert.strictEqual(answer.status, 413, `${method} ${path}: ${answer.head}`)
        assert.strictEqual(parsed(answer.body)._tag, "PayloadTooLarge", path)
        assert.strictEqual(parsed(answer.body).maxBytes, MiB, path)
        assert.isTrue(answer.closed, `${path}: the connection is closed`)
        assert.isBelow(answer.body.length, 500, path)
      }
    }).pipe(withServer()))

  it.effect("a chunked body is cut off at the limit with a 413", () =>
    Effect.gen(function*() {
      yield* startClock
      const { user } = yield* therapistWithPatient
      const chunk = Buffer.alloc(MiB + 1, " ")
      const head = rawHead("POST", "/patients", user.id, {
        "content-type": "application/json",
        "transfer-encoding": "chunked"
      })
      const answer = yield* rawExchange([head, `${chunk.length.toString(16)}\r\n`, chunk, "\r\n"], { end: false })
      assert.strictEqual(answer.status, 413, answer.head)
      assert.strictEqual(parsed(answer.body)._tag, "PayloadTooLarge")
    }).pipe(withServer()))

  it.effect("the limit is API_MAX_JSON_BYTES", () =>
    Effect.gen(function*() {
      yield* startClock
      const { user } = yield* therapistWithPatient
      const over = yield* send(user.id, json("POST", "/patients", JSON.stringify({ name: "x".repeat(3000) })))
      assert.strictEqual(over.status, 413)
      assert.deepStrictEqual(over.body, {
        _tag: "PayloadTooLarge",
        message: "The request body may be at most 2048 bytes",
        maxBytes: 2048
      })
      const under = yield* send(user.id, json("POST", "/patients", JSON.stringify({ name: "Pat" })))
      assert.strictEqual(under.status, 201)
    }).pipe(withServer({ API_MAX_JSON_BYTES: "2048" })))
})

describe("request bodies: what an error message repeats", () => {
  it.effect("a huge value comes back as a short excerpt at most", () =>
    Effect.gen(function*() {
      yield* startClock
      const { patient, user } = yield* therapistWithPatient
      const huge = "x".repeat(300_000)
      const cases: Array<readonly [string, string, unknown]> = [
        ["POST", "/auth/register", { email: huge, name: "N", password: "long enough password" }],
        ["POST", "/auth/register", { email: "a@b.co", name: huge, password: "long enough password" }],
        ["POST", "/auth/login", { email: "a@b.co", password: huge }],
        ["POST", "/patients", { name: huge }],
        ["PATCH", `/patients/${patient.id}`, { notes: huge }],
        ["POST", "/bookings", { patientId: huge, startsAt: huge, endsAt: huge }],
        ["POST", "/patients", { name: "Pat", [huge]: 1, email: 42 }],
        ["POST", "/calendar/external", { url: huge }]
      ]
      for (const [method, path, body] of cases) {
        const res = yield* send(user.id, json(method as "POST", path, JSON.stringify(body)))
        assert.strictEqual(res.status, 400, `${path}: ${JSON.stringify(res.body).slice(0, 300)}`)
        const text = JSON.stringify(res.body)
        assert.isBelow(text.length, 2000, path)
        assert.notInclude(text, "x".repeat(200), path)
      }
    }).pipe(withServer()))

  it.effect("JSON nested deeper than 64 levels is a 400, at any depth and on any endpoint", () =>
    Effect.gen(function*() {
      yield* startClock
      const { user } = yield* therapistWithPatient
      for (const depth of [65, 1_000, 100_000]) {
        for (const [open, close] of [["[", "]"], ["{\"a\":", "}"]]) {
          for (const path of ["/patients", "/auth/register", "/bookings"]) {
            const body = open.repeat(depth) + "1" + close.repeat(depth)
            const res = yield* send(user.id, json("POST", path, body))
            assert.strictEqual(res.status, 400, `${path} depth ${depth}`)
            assert.strictEqual(res.body.message, "body: nested deeper than 64 levels")
          }
        }
      }
      const shallow = yield* send(user.id, json("POST", "/patients", JSON.stringify({ name: "Pat", x: [[[1]]] })))
      assert.strictEqual(shallow.status, 201)
    }).pipe(withServer()))

  it.effect("a nullable field reports its real problem only, without \"Expected null\"", () =>
    Effect.gen(function*() {
      yield* startClock
      const { patient, user } = yield* therapistWithPatient
      const cases: Array<readonly [string, string, unknown, string]> = [
        ["POST", "/patients", { name: "Pat", email: "not-an-email" }, "email: Expected an email address"],
        ["PATCH", `/patients/${patient.id}`, { email: "nope" }, "email: Expected an email address"],
        ["PATCH", `/patients/${patient.id}`, { notes: 42 }, "notes: Expected string"]
      ]
      for (const [method, path, body, expected] of cases) {
        const res = yield* send(user.id, json(method as "POST", path, JSON.stringify(body)))
        assert.strictEqual(res.status, 400)
        assert.notInclude(res.body.message, "Expected null", path)
        assert.notInclude(JSON.stringify(res.body.issues), "Expected null", path)
        assert.include(res.body.message, expected, path)
      }
    }).pipe(withServer()))
})

describe("request bodies: content types", () => {
  it.effect("JSON endpoints take JSON only: anything else is a 415", () =>
    Effect.gen(function*() {
      yield* startClock
      const { user } = yield* therapistWithPatient
      const refused = [
        "application/x-www-form-urlencoded",
        "text/plain",
        "application/xml",
        "multipart/form-data",
        "multipart/form-data; boundary=abc",
        "application/octet-stream",
        "application/merge-patch+json"
      ]
      for (const contentType of refused) {
        for (const path of ["/patients", "/auth/register"]) {
          const res = yield* send(user.id, json("POST", path, "name=Pat", contentType))
          assert.strictEqual(res.status, 415, `${path} ${contentType}`)
          assert.strictEqual(res.body._tag, "UnsupportedMediaType")
        }
      }
      for (const contentType of ["application/json", "application/json; charset=utf-8", "Application/JSON"]) {
        const res = yield* send(user.id, json("POST", "/patients", JSON.stringify({ name: "Pat" }), contentType))
        assert.strictEqual(res.status, 201, contentType)
      }
    }).pipe(withServer()))
})

describe("request bodies: multipart", () => {
  const uploads = ["/recordings", "/auth/sessions/current/media"]

  it.effect("a missing or invalid boundary is a 400, another type a 415, on every upload endpoint", () =>
    Effect.gen(function*() {
      yield* startClock
      const { user } = yield* therapistWithPatient
      const cases: Array<readonly [string, number]> = [
        ["multipart/form-data", 400],
        ["multipart/form-data; charset=utf-8", 400],
        ["multipart/form-data; boundary=", 400],
        ["multipart/form-data; boundary=\"\"", 400],
        [`multipart/form-data; boundary=${"b".repeat(71)}`, 400],
        ["multipart/form-data; boundary=a{b}", 400],
        ["application/json", 415],
        ["application/x-www-form-urlencoded", 415],
        ["text/plain", 415]
      ]
      for (const path of uploads) {
        for (const [contentType, status] of cases) {
          const res = yield* send(user.id, json("POST", path, "--x\r\n\r\n", contentType))
          assert.strictEqual(res.status, status, `${path} ${contentType}: ${JSON.stringify(res.body)}`)
          assert.strictEqual(res.body._tag, status === 400 ? "HttpApiDecodeError" : "UnsupportedMediaType")
        }
      }
    }).pipe(withServer()))

  it.effect("an empty body or one that ends before its closing boundary is a 400, and nothing is kept", () =>
    Effect.gen(function*() {
      yield* startClock
      const { patient, user } = yield* therapistWithPatient
      const whole = form("B0undary", patient.id)
      const fileStarts = whole.indexOf("\r\n\r\n", whole.indexOf("filename=")) + 4
      const cases: Array<readonly [string, Buffer]> = [
        ["empty", Buffer.alloc(0)],
        ["preamble only", Buffer.from("hello")],
        ["inside the first part's headers", whole.subarray(0, 30)],
        ["after the first part", whole.subarray(0, whole.indexOf("--B0undary", 5))],
        ["inside the file", whole.subarray(0, fileStarts + 100)],
        ["just before the closing boundary", whole.subarray(0, whole.length - 14)]
      ]
      for (const [label, body] of cases) {
        for (const path of uploads) {
          const head = rawHead("POST", path, user.id, {
            "content-type": "multipart/form-data; boundary=B0undary",
            "content-length": body.length
          })
          const answer = yield* rawExchange([head, body], { end: false })
          assert.include([400, 401, 404], answer.status, `${path}, ${label}: ${answer.head}`)
          if (path === "/recordings") {
            assert.strictEqual(answer.status, 400, `${label}: ${answer.body}`)
            assert.strictEqual(parsed(answer.body)._tag, "MalformedUpload", label)
          }
        }
      }
      assert.deepStrictEqual(yield* storedFiles, [])
      const complete = yield* rawExchange([
        rawHead("POST", "/recordings", user.id, {
          "content-type": "multipart/form-data; boundary=B0undary",
          "content-length": whole.length,
          connection: "close"
        }),
        whole
      ], { end: false })
      assert.strictEqual(complete.status, 201, complete.body)
    }).pipe(withServer()))

  it.effect("a raw UTF-8 filename is kept as the recording's display name", () =>
    Effect.gen(function*() {
      yield* startClock
      const { patient, user } = yield* therapistWithPatient
      for (const name of ["séance 😀.mp3", "会话.mp3", "Zoë – notes.mp3"]) {
        const body = form("B0undary", patient.id, name)
        const answer = yield* rawExchange([
          rawHead("POST", "/recordings", user.id, {
            "content-type": "multipart/form-data; boundary=B0undary",
            "content-length": body.length,
            connection: "close"
          }),
          body
        ], { end: false })
        assert.strictEqual(answer.status, 201, answer.body)
        assert.strictEqual(parsed(answer.body).originalFilename, name)
        // As fetch's FormData sends it.
        const viaFetch = yield* upload(user.id, [["patientId", patient.id], ["file", {
          name,
          type: "audio/mpeg",
          bytes: audioBytes(heads.mp3Id3, 4096)
        }]])
        assert.strictEqual(viaFetch.status, 201, JSON.stringify(viaFetch.body))
        assert.strictEqual(viaFetch.body.originalFilename, name)
      }
    }).pipe(withServer()))
})

describe("request bodies: a client that stops sending", () => {
  it.live("gets a 408 after API_BODY_IDLE_TIMEOUT, its connection closed and nothing kept", () =>
    Effect.gen(function*() {
      const { patient, user } = yield* therapistWithPatient
      const upload = form("B0undary", patient.id)
      const cases: Array<readonly [string, string, Buffer]> = [
        ["/patients", "application/json", Buffer.from("{\"name\":")],
        ["/recordings", "multipart/form-data; boundary=B0undary", upload.subarray(0, upload.length - 200)],
        ["/recordings", "multipart/form-data; boundary=B0undary", Buffer.alloc(0)]
      ]
      for (const [path, contentType, sent] of cases) {
        const head = rawHead("POST", path, user.id, { "content-type": contentType, "content-length": 100_000 })
        const started = Date.now()
        const answer = yield* rawExchange([head, sent], { end: false, within: "5 seconds" })
        assert.strictEqual(answer.status, 408, `${path}: ${answer.head}`)
        assert.strictEqual(parsed(answer.body)._tag, "RequestTimeout")
        assert.isTrue(answer.closed)
        assert.isBelow(Date.now() - started, 3000)
      }
      assert.deepStrictEqual(yield* storedFiles, [])
    }).pipe(withServer({ API_BODY_IDLE_TIMEOUT: "300 millis" })))
})

describe("request bodies: keep-alive connections", () => {
  // A request answered without its body being read (a GET with a body, a 401 before any read)
  // must leave the connection able to carry the next request, or close it; never both claim
  // keep-alive and choke on the unread bytes.
  const statusLines = (answer: { readonly head: string; readonly body: string }) =>
    [...`${answer.head}\r\n\r\n${answer.body}`.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]))

  it.effect("the request after one whose body went unread is answered, or the connection is closed", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [string, string, Record<string, string | number>]> = [
        ["GET", "/auth/me", {}],
        ["GET", "/health", {}],
        ["DELETE", "/auth/sessions/00000000-0000-0000-0000-000000000000", {}],
        ["POST", "/patients", { "content-type": "application/json" }],
        ["POST", "/auth/login", { "content-type": "application/json" }]
      ]
      for (const [method, path, headers] of cases) {
        for (const [size, chunked] of [[1, false], [10, false], [5000, false], [10, true], [5000, true]] as const) {
          const body = chunked ? `${size.toString(16)}\r\n${"x".repeat(size)}\r\n0\r\n\r\n` : "x".repeat(size)
          const framing = chunked ? "transfer-encoding: chunked" : `content-length: ${size}`
          const first = [`${method} ${path} HTTP/1.1`, "host: localhost", "connection: keep-alive", framing]
            .concat(Object.entries(headers).map(([key, value]) => `${key}: ${value}`))
            .join("\r\n") + "\r\n\r\n" + body
          const second = "GET /health HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n"
          const answer = yield* rawExchange([first, second], { end: false, within: "3 seconds" })
          const statuses = statusLines(answer)
          const label = `${method} ${path} with ${size} body bytes${chunked ? " (chunked)" : ""}: ${
            JSON.stringify(statuses)
          } ${answer.head}`
          assert.isAtLeast(statuses.length, 1, label)
          assert.isBelow(statuses[0], 500, label)
          if (statuses.length === 1) {
            // The server gave up on the connection: it must have said so.
            assert.match(answer.head, /connection: close/i, label)
            assert.isTrue(answer.closed, label)
          } else {
            assert.deepStrictEqual(statuses.slice(1), [200], label)
          }
        }
      }
    }).pipe(withServer()))
})

describe("request bodies: a keep-alive client", () => {
  it.live("reuses its connection after a GET whose declared body was not read before the 401", () =>
    Effect.gen(function*() {
      const server = yield* HttpServer.HttpServer
      const port = server.address._tag === "TcpAddress" ? server.address.port : 0
      const agent = new Http.Agent({ keepAlive: true, maxSockets: 1 })
      const request = (method: string, path: string, body?: string, headers: Record<string, string> = {}) =>
        Effect.async<{ readonly status: number }, Error>((resume) => {
          // Declared: Node's client sends a GET body without framing, which no server could tell apart
          // from the next request.
          const length = body === undefined ? {} : { "content-length": String(Buffer.byteLength(body)) }
          const outgoing = Http.request({
            host: "127.0.0.1",
            port,
            method,
            path,
            agent,
            headers: { ...headers, ...length }
          }, (res) => {
            res.resume()
            res.on("end", () => resume(Effect.succeed({ status: res.statusCode ?? 0 })))
          })
          outgoing.on("error", (error) => resume(Effect.fail(error)))
          outgoing.end(body)
        })
      const results: Array<number> = []
      for (let i = 0; i < 20; i++) {
        const big = "y".repeat(i * 997)
        const step = (label: string, effect: Effect.Effect<{ readonly status: number }, Error>) =>
          effect.pipe(Effect.mapError((e) => new Error(`${label} #${i}: ${e.message}`)), Effect.map((r) => r.status))
        results.push(yield* step("json", request("GET", "/auth/me", big, { "content-type": "application/json" })))
        results.push(yield* step("plain", request("GET", "/auth/me", big)))
        results.push(yield* step("health", request("GET", "/health")))
      }
      agent.destroy()
      assert.deepStrictEqual(new Set(results), new Set([401, 200]))
    }).pipe(withServer()))
})
