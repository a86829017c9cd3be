import { HttpClient, HttpClientRequest } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Duration, Effect } from "effect"
import { at, memoryServer, postBooking, send, startClock, T0, therapistWithPatient } from "./support/TestApi.js"

const iso = (dt: DateTime.DateTime) => DateTime.formatIso(dt)

describe("bookings in the past", () => {
  it.effect("a booking that starts before now is a 400 BookingInPast, with or without an idempotency key", () =>
    Effect.gen(function*() {
      yield* startClock
      const { patient, user } = yield* therapistWithPatient
      const cases: Array<readonly [string, DateTime.DateTime, number]> = [
        ["a year ago", DateTime.subtract(T0, { days: 365 }), 400],
        ["an hour ago", DateTime.subtract(T0, { hours: 1 }), 400],
        ["a millisecond ago", DateTime.subtract(T0, { millis: 1 }), 400],
        ["now", T0, 201],
        ["in an hour", at(Duration.hours(1)), 201]
      ]
      for (const [label, startsAt, status] of cases) {
        for (const key of [undefined, crypto.randomUUID()]) {
          // Accepted slots move a day on for the keyed attempt, so that they do not overlap.
          const start = status === 201 && key !== undefined ? DateTime.add(startsAt, { days: 1 }) : startsAt
          const body = {
            patientId: patient.id,
            startsAt: iso(start),
            endsAt: iso(DateTime.add(start, { minutes: 50 }))
          }
          const res = yield* postBooking(user.id, key, body)
          assert.strictEqual(res.status, status, `${label} ${key ?? ""}: ${JSON.stringify(res.body)}`)
          if (status === 400) {
            assert.deepStrictEqual(res.body, { _tag: "BookingInPast", message: "startsAt is in the past" })
          }
        }
      }
    }).pipe(Effect.provide(memoryServer())))
})

describe("patient emails", () => {
  it.effect("are stored lower-cased and trimmed, like account emails", () =>
    Effect.gen(function*() {
      yield* startClock
      const { client, patient, user } = yield* therapistWithPatient
      const cases = ["Ada@Example.ORG", "  ADA@EXAMPLE.ORG ", "ada@example.org"]
      for (const email of cases) {
        const created = yield* send(
          user.id,
          HttpClientRequest.post("/patients").pipe(HttpClientRequest.bodyUnsafeJson({ name: "Ada", email }))
        )
        assert.strictEqual(created.status, 201, JSON.stringify(created.body))
        assert.strictEqual(created.body.email, "ada@example.org", email)
        const patched = yield* send(
          user.id,
          HttpClientRequest.patch(`/patients/${patient.id}`).pipe(HttpClientRequest.bodyUnsafeJson({ email }))
        )
        assert.strictEqual(patched.body.email, "ada@example.org", email)
      }
      assert.strictEqual((yield* client.patients.get({ path: { id: patient.id } })).email, "ada@example.org")
    }).pipe(Effect.provide(memoryServer())))
})

describe("response headers", () => {
  const paths = ["/health", "/patients", "/no-such-route", "/openapi.json", "/docs"]

  it.effect("every answer, errors included, carries nosniff, no-referrer and a CSP; /docs its own", () =>
    Effect.gen(function*() {
      yield* startClock
      const { user } = yield* therapistWithPatient
      for (const path of paths) {
        for (const token of [user.id, "not-a-user"]) {
          const headers = yield* headersOf(token, path)
          assert.strictEqual(headers["x-content-type-options"], "nosniff", path)
          assert.strictEqual(headers["referrer-policy"], "no-referrer", path)
          const csp = headers["content-security-policy"] ?? ""
          assert.include(csp, "default-src 'none'", path)
          assert.include(csp, "frame-ancestors 'none'", path)
          if (path === "/docs") assert.include(csp, "script-src 'unsafe-inline'")
          else assert.notInclude(csp, "script-src", path)
        }
      }
    }).pipe(Effect.provide(memoryServer())))

  it.effect("CORS: no origin is allowed by default", () =>
    Effect.gen(function*() {
      yield* startClock
      const { user } = yield* therapistWithPatient
      const res = yield* send(
        user.id,
        HttpClientRequest.get("/patients").pipe(
          HttpClientRequest.setHeader("origin", "https://evil.example")
        )
      )
      assert.strictEqual(res.status, 200)
      assert.isUndefined(res.headers["access-control-allow-origin"])
    }).pipe(Effect.provide(memoryServer())))

  it.effect("CORS: API_CORS_ORIGINS lists the origins allowed, preflight included", () =>
    Effect.gen(function*() {
      yield* startClock
      const { user } = yield* therapistWithPatient
      const from = (origin: string) =>
        send(user.id, HttpClientRequest.get("/patients").pipe(HttpClientRequest.setHeader("origin", origin)))
      assert.strictEqual(
        (yield* from("https://app.example")).headers["access-control-allow-origin"],
        "https://app.example"
      )
      assert.strictEqual(
        (yield* from("https://admin.example")).headers["access-control-allow-origin"],
        "https://admin.example"
      )
      assert.isUndefined((yield* from("https://evil.example")).headers["access-control-allow-origin"])
      const preflight = yield* send(
        user.id,
        HttpClientRequest.make("OPTIONS")("/patients").pipe(HttpClientRequest.setHeaders({
          origin: "https://app.example",
          "access-control-request-method": "POST",
          "access-control-request-headers": "authorization, content-type"
        }))
      )
      assert.isBelow(preflight.status, 300)
      assert.strictEqual(preflight.headers["access-control-allow-origin"], "https://app.example")
      assert.include(preflight.headers["access-control-allow-methods"] ?? "", "POST")
    }).pipe(
      Effect.provide(memoryServer({ settings: { API_CORS_ORIGINS: "https://app.example, https://admin.example" } }))
    ))
})

/** The headers of any answer, JSON or not. */
const headersOf = (token: string, path: string) =>
  HttpClient.execute(HttpClientRequest.get(path).pipe(HttpClientRequest.bearerToken(token))).pipe(
    Effect.map((response) => response.headers),
    Effect.scoped,
    Effect.orDie
  )
