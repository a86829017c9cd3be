import { BookingRepo } from "@clinic/repository"
import { captureLogs } from "@clinic/testing"
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Recordings } from "../src/Recordings.js"
import {
  makeTherapist,
  memoryServer,
  memoryStores,
  serve,
  startClock,
  therapistWithPatient
} from "./support/TestApi.js"

const request = (
  method: "GET" | "POST" | "PATCH",
  path: string,
  options: { token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {}
) =>
  Effect.gen(function*() {
    let req = HttpClientRequest.make(method)(path).pipe(HttpClientRequest.setHeaders(options.headers ?? {}))
    if (options.token) req = HttpClientRequest.bearerToken(req, options.token)
    if (options.body !== undefined) req = HttpClientRequest.bodyUnsafeJson(req, options.body)
    if (options.rawBody !== undefined) req = HttpClientRequest.bodyText(req, options.rawBody, "application/json")
    const response = yield* HttpClient.execute(req)
    const text = yield* response.text
    const json = (response.headers["content-type"] ?? "").startsWith("application/json")
    return { status: response.status, headers: response.headers, body: json ? JSON.parse(text) : text }
  })

describe("error shape and request ids (@clinic/http ErrorShape)", () => {
  it.effect("validation errors are 400 HttpApiDecodeError naming the field", () =>
    Effect.gen(function*() {
      yield* startClock
      const { patient, user } = yield* therapistWithPatient
      const cases: Array<[string, ReturnType<typeof request>, RegExp]> = [
        [
          "ends before it starts",
          request("POST", "/bookings", {
            token: user.id,
            body: { patientId: patient.id, startsAt: "2026-03-03T10:00:00Z", endsAt: "2026-03-03T09:00:00Z" }
          }),
          /^endsAt: endsAt must be after startsAt$/
        ],
        [
          "longer than 12 hours",
          request("POST", "/bookings", {
            token: user.id,
            body: { patientId: patient.id, startsAt: "2026-03-03T10:00:00Z", endsAt: "2026-03-04T10:00:00Z" }
          }),
          /^endsAt: a booking lasts at most 12h/
        ],
        [
          "missing field",
          request("POST", "/bookings", { token: user.id, body: { startsAt: "2026-03-03T10:00:00Z" } }),
          /patientId: is missing/
        ],
        [
          "not a date",
          request("POST", "/bookings", {
            token: user.id,
            body: { patientId: patient.id, startsAt: "tomorrow", endsAt: "2026-03-03T09:00:00Z" }
          }),
          /startsAt: /
        ],
        ["bad path id", request("GET", "/bookings/not-a-uuid", { token: user.id }), /^id: /],
        [
          "limit 0",
          request("GET", "/bookings?limit=0", { token: user.id }),
          /^limit: limit must be between 1 and 100$/
        ],
        ["limit 101", request("GET", "/patients?limit=101", { token: user.id }), /^limit: /],
        ["limit abc", request("GET", "/bookings?limit=abc", { token: user.id }), /^limit: /],
        ["bad status", request("GET", "/bookings?status=done", { token: user.id }), /^status: /],
        ["empty patient name", request("POST", "/patients", { token: user.id, body: { name: "  " } }), /^name: /],
        [
          "bad idempotency key",
          request("POST", "/bookings", {
            token: user.id,
            headers: { "idempotency-key": "has space" },
            body: { patientId: patient.id, startsAt: "2026-03-03T10:00:00Z", endsAt: "2026-03-03T11:00:00Z" }
          }),
          /^idempotency-key: /
        ],
        ["unparsable JSON", request("POST", "/patients", { token: user.id, rawBody: "{nope" }), /^body: /]
      ]
      for (const [name, run, message] of cases) {
        const { body, status } = yield* run
        assert.strictEqual(status, 400, name)
        assert.strictEqual(body._tag, "HttpApiDecodeError", name)
        assert.match(body.message, message, name)
      }
    }).pipe(Effect.provide(memoryServer())))

  it.effect("an invalid cursor is a 400 InvalidCursor", () =>
    Effect.gen(function*() {
      const user = yield* makeTherapist()
      for (const path of ["/bookings?cursor=garbage", "/patients?cursor=eyJ4IjoxfQ"]) {
        const { body, status } = yield* request("GET", path, { token: user.id })
        assert.strictEqual(status, 400)
        assert.strictEqual(body._tag, "InvalidCursor")
        assert.match(body.message, /^cursor: /)
      }
    }).pipe(Effect.provide(memoryServer())))

  it.effect("unknown routes and missing tokens have the same JSON error shape", () =>
    Effect.gen(function*() {
      const missing = yield* request("GET", "/no-such-route")
      assert.strictEqual(missing.status, 404)
      assert.deepStrictEqual(missing.body, {
        _tag: "RouteNotFound",
        message: "No endpoint for GET /no-such-route",
        method: "GET",
        path: "/no-such-route"
      })
      const anonymous = yield* request("GET", "/bookings")
      assert.strictEqual(anonymous.status, 401)
      assert.strictEqual(anonymous.body._tag, "Unauthorized")
      assert.isString(anonymous.body.message)
    }).pipe(Effect.provide(memoryServer())))

  it.effect("a request id is accepted and echoed, or generated; a bad one is replaced", () =>
    Effect.gen(function*() {
      const given = yield* request("GET", "/health", { headers: { "x-request-id": "req-123" } })
      assert.strictEqual(given.headers["x-request-id"], "req-123")
      const generated = yield* request("GET", "/health")
      assert.match(generated.headers["x-request-id"], /^[0-9a-f-]{36}$/)
      const hostile = yield* request("GET", "/health", { headers: { "x-request-id": "a b <script>" } })
      assert.match(hostile.headers["x-request-id"], /^[0-9a-f-]{36}$/)
    }).pipe(Effect.provide(memoryServer())))

  it.effect("a defect is a sanitized 500 InternalError with the request id; the cause is only logged", () => {
    const { layer: capture, lines: logged } = captureLogs()
    // The repository breaks the way a driver would: a defect carrying SQL.
    const brokenBookings = Layer.effect(
      BookingRepo,
      Effect.map(BookingRepo, (repo) =>
        BookingRepo.of({
          ...repo,
          list: () => Effect.die(new Error("syntax error at or near SELECT * FROM bookings WHERE secret"))
        }))
    )
    return Effect.gen(function*() {
      const user = yield* makeTherapist()
      const { body, headers, status } = yield* request("GET", "/bookings", {
        token: user.id,
        headers: { "x-request-id": "defect-1" }
      })
      assert.strictEqual(status, 500)
      assert.deepStrictEqual(body, {
        _tag: "InternalError",
        message: "The server failed to handle this request; it has been logged",
        requestId: "defect-1"
      })
      assert.strictEqual(headers["x-request-id"], "defect-1")
      const line = logged.find((entry) => entry.includes("request failed unexpectedly"))
      assert.isDefined(line)
      assert.include(line!, "SELECT * FROM bookings WHERE secret")
      assert.include(line!, "defect-1")
    }).pipe(
      Effect.provide(
        serve(Layer.provideMerge(brokenBookings, memoryStores), Recordings).pipe(Layer.provide(capture))
      )
    )
  })

  it.effect("the OpenAPI document lists the endpoints with their errors", () =>
    Effect.gen(function*() {
      const { body, status } = yield* request("GET", "/openapi.json")
      assert.strictEqual(status, 200)
      const paths = body.paths as Record<string, Record<string, { responses: Record<string, unknown> }>>
      assert.includeMembers(Object.keys(paths), [
        "/patients",
        "/patients/{id}",
        "/bookings",
        "/bookings/{id}",
        "/bookings/{id}/confirm",
        "/bookings/{id}/cancel"
      ])
      assert.includeMembers(Object.keys(paths["/bookings"].post.responses), [
        "201",
        "400",
        "401",
        "404",
        "409",
        "422",
        "500"
      ])
      assert.includeMembers(Object.keys(paths["/bookings/{id}/confirm"].post.responses), ["200", "404", "409"])
      const docs = yield* request("GET", "/docs")
      assert.strictEqual(docs.status, 200)
      assert.include(docs.body, "<html")
    }).pipe(Effect.provide(memoryServer())))
})
