import { RemovedMedia, SessionCleanup } from "@clinic/cleanup"
import { Email, SchedulerAdminApi, UserId } from "@clinic/domain"
import { Mailer } from "@clinic/mail"
import { TaskQueue, Worker } from "@clinic/queue"
import { AuthSessionRepo, BookingRepo, PatientRepo, UserRepo } from "@clinic/repository"
import { captureLogs } from "@clinic/testing"
import { HttpApiClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Clock, DateTime, Effect, Layer, Ref } from "effect"
import { AdminServeLive } from "../src/AdminHttp.js"
import { maintenancePrune, TaskRegistry } from "../src/Background.js"
import { AUTH_SESSION_CLEANUP, BOOKING_HOLD_EXPIRY, CALENDAR_SYNC } from "../src/Jobs.js"
import { memoryApp } from "./layers.js"

// The email tasks share the registry; these tests send no mail.
const noMail = Layer.succeed(Mailer, Mailer.of({ send: () => Effect.dieMessage("no mail in this test") }))

/** The admin API as served (error shape, request ids), on a test server over the memory app. */
const serve = (env: Record<string, string>) =>
  AdminServeLive.pipe(
    Layer.provideMerge(NodeHttpServer.layerTest),
    Layer.provideMerge(memoryApp(env))
  )

const json = (request: HttpClientRequest.HttpClientRequest, token?: string) =>
  Effect.gen(function*() {
    const response = yield* HttpClient.execute(token ? HttpClientRequest.bearerToken(request, token) : request)
    return {
      status: response.status,
      headers: response.headers,
      body: (yield* response.json) as any // eslint-disable-line @typescript-eslint/no-explicit-any -- the raw JSON a client reads, field by field
    }
  })

const client = (token?: string) =>
  HttpApiClient.make(SchedulerAdminApi, {
    transformClient: token ? HttpClient.mapRequest(HttpClientRequest.bearerToken(token)) : undefined
  })

const status = (request: HttpClientRequest.HttpClientRequest, token?: string) =>
  Effect.map(
    HttpClient.execute(token ? HttpClientRequest.bearerToken(request, token) : request),
    (response) => response.status
  )

/** The live clock set back by `ms`: what makes a row look written that long ago. */
const clockBehind = (ms: number): Clock.Clock => {
  const millis = () => Date.now() - ms
  return {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: millis,
    currentTimeMillis: Effect.sync(millis),
    unsafeCurrentTimeNanos: () => BigInt(millis()) * 1_000_000n,
    currentTimeNanos: Effect.sync(() => BigInt(millis()) * 1_000_000n),
    sleep: (duration) => Effect.sleep(duration)
  }
}

describe("scheduler admin API", () => {
  it.live("requires the admin token: none or a wrong one is 401, health stays open", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* status(HttpClientRequest.get("/jobs")), 401)
      assert.strictEqual(yield* status(HttpClientRequest.get("/jobs"), "wrong"), 401)
      assert.strictEqual(yield* status(HttpClientRequest.post(`/jobs/${BOOKING_HOLD_EXPIRY}/run`), "wrong"), 401)
      assert.strictEqual(yield* status(HttpClientRequest.get("/cleanup/preview/expired-bookings")), 401)
      assert.strictEqual(yield* status(HttpClientRequest.get("/jobs"), "s3cret"), 200)
      assert.strictEqual(yield* status(HttpClientRequest.get("/health")), 200)
    }).pipe(Effect.provide(serve({ SCHEDULER_ADMIN_TOKEN: "s3cret" }))))

  it.live("with no token configured every admin endpoint is 401, whatever the caller sends", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip((yield* client("anything")).jobs.list())
      assert.strictEqual(error._tag, "Unauthorized")
      assert.match((error as { message: string }).message, /SCHEDULER_ADMIN_TOKEN/)
      assert.strictEqual(yield* status(HttpClientRequest.get("/jobs"), ""), 401)
    }).pipe(Effect.provide(serve({}))))

  it.live("jobs: list with status, run now, one job with its runs, pause and resume, unknown is 404", () =>
    Effect.gen(function*() {
      const api = yield* client("s3cret")
      const list = yield* api.jobs.list()
      assert.strictEqual(list.state, "not-started")
      assert.deepStrictEqual(list.jobs.map((j) => j.name), [
        AUTH_SESSION_CLEANUP,
        BOOKING_HOLD_EXPIRY,
        "run-history-prune",
        "processed-events-prune",
        CALENDAR_SYNC,
        "nightly-maintenance"
      ])
      assert.strictEqual(list.jobs[1].nextRuns.length, 5)

      const run = yield* api.jobs.runNow({ path: { name: BOOKING_HOLD_EXPIRY } })
      assert.strictEqual(run.outcome, "succeeded")
      assert.strictEqual(run.trigger, "manual")
      assert.deepStrictEqual(run.result, { expiredBookingIds: [], complete: true })

      const detail = yield* api.jobs.get({ path: { name: BOOKING_HOLD_EXPIRY }, urlParams: { limit: 5 } })
      assert.deepStrictEqual(detail.recentRuns.map((r) => r.id), [run.id])
      assert.strictEqual(detail.status.lastRun?.id, run.id)

      assert.isTrue((yield* api.jobs.pause({ path: { name: AUTH_SESSION_CLEANUP }, urlParams: {} })).paused)
      assert.isTrue((yield* api.jobs.list()).jobs[0].paused)
      assert.isFalse((yield* api.jobs.resume({ path: { name: AUTH_SESSION_CLEANUP } })).paused)

      const missing = yield* Effect.flip(api.jobs.get({ path: { name: "nope" }, urlParams: {} }))
      assert.strictEqual(missing._tag, "NotFound")
      assert.strictEqual(yield* status(HttpClientRequest.post("/jobs/nope/run"), "s3cret"), 404)
      assert.strictEqual(yield* status(HttpClientRequest.get(`/jobs/${BOOKING_HOLD_EXPIRY}?limit=0`), "s3cret"), 400)
      assert.strictEqual(yield* status(HttpClientRequest.get(`/jobs/${BOOKING_HOLD_EXPIRY}?limit=abc`), "s3cret"), 400)
    }).pipe(Effect.provide(serve({ SCHEDULER_ADMIN_TOKEN: "s3cret" }))))

  it.live("cleanup previews answer an empty list when nothing is due and validate their parameters", () =>
    Effect.gen(function*() {
      const api = yield* client("s3cret")
      assert.deepStrictEqual(yield* api.cleanup.inactiveSessions({ urlParams: { olderThanHours: 1 } }), [])
      assert.deepStrictEqual(yield* api.cleanup.expiredBookings({ urlParams: { limit: 10 } }), [])
      const bad = HttpClientRequest.get("/cleanup/preview/inactive-sessions?olderThanHours=-1")
      assert.strictEqual(yield* status(bad, "s3cret"), 400)
    }).pipe(Effect.provide(serve({ SCHEDULER_ADMIN_TOKEN: "s3cret" }))))

  it.live("cleanup previews list the idle sessions and lapsed holds there are; run-now expires them and records its result", () =>
    Effect.gen(function*() {
      const users = yield* UserRepo
      const sessions = yield* AuthSessionRepo
      const bookings = yield* BookingRepo
      const now = yield* DateTime.now
      const therapist = yield* users.insert({
        email: Email.make(`preview.${crypto.randomUUID().slice(0, 8)}@clinic.test`),
        name: "Dr Preview",
        role: "therapist",
        passwordHash: "x"
      }).pipe(Effect.orDie)
      const patient = yield* Effect.flatMap(
        PatientRepo,
        (repo) => repo.insert({ therapistId: therapist.id, name: "Pat", email: null, phone: null, notes: null })
      )
      const newSession = () =>
        sessions.insert({
          userId: therapist.id,
          tokenHash: crypto.randomUUID(),
          expiresAt: DateTime.add(now, { days: 30 }),
          userAgent: null,
          ip: null
        })
      // Last active three hours ago: created on a clock set back that far.
      const idle = yield* Effect.withClock(newSession(), clockBehind(3 * 3600 * 1000))
      yield* newSession()
      const book = (days: number, holdExpiresAt: DateTime.Utc) => {
        const startsAt = DateTime.add(now, { days })
        return bookings.insert({
          therapistId: therapist.id,
          patientId: patient.id,
          startsAt,
          endsAt: DateTime.add(startsAt, { hours: 1 }),
          holdExpiresAt
        }).pipe(Effect.orDie)
      }
      const lapsed = yield* book(1, DateTime.subtract(now, { minutes: 10 }))
      const held = yield* book(2, DateTime.add(now, { minutes: 10 }))

      const api = yield* client("s3cret")
      const inactive = yield* api.cleanup.inactiveSessions({ urlParams: { olderThanHours: 2 } })
      assert.deepStrictEqual(inactive.map((s) => [s.sessionId, s.userId]), [[idle.id, therapist.id]])
      assert.isAtLeast(inactive[0].idleSeconds, 3 * 3600)
      assert.deepStrictEqual(yield* api.cleanup.inactiveSessions({ urlParams: { olderThanHours: 4 } }), [])
      const expired = yield* api.cleanup.expiredBookings({ urlParams: { limit: 10 } })
      assert.deepStrictEqual(expired.map((b) => [b.bookingId, b.therapistId, b.patientId]), [[
        lapsed.id,
        therapist.id,
        patient.id
      ]])
      assert.isAtLeast(expired[0].overdueSeconds, 600)
      // A preview changes nothing: asked again, it lists the same.
      assert.strictEqual((yield* api.cleanup.expiredBookings({ urlParams: { limit: 10 } })).length, 1)
      assert.isTrue(yield* Effect.isSuccess(sessions.findById(idle.id)))

      const run = yield* api.jobs.runNow({ path: { name: BOOKING_HOLD_EXPIRY } })
      assert.strictEqual(run.outcome, "succeeded")
      assert.deepStrictEqual(run.result, { expiredBookingIds: [lapsed.id], complete: true })
      const detail = yield* api.jobs.get({ path: { name: BOOKING_HOLD_EXPIRY }, urlParams: { limit: 5 } })
      assert.deepStrictEqual(detail.recentRuns.map((r) => [r.id, r.outcome, r.result]), [[
        run.id,
        "succeeded",
        { expiredBookingIds: [lapsed.id], complete: true }
      ]])
      assert.strictEqual((yield* bookings.findById(lapsed.id)).status, "expired")
      assert.strictEqual((yield* bookings.findById(held.id)).status, "pending")
      assert.deepStrictEqual(yield* api.cleanup.expiredBookings({ urlParams: { limit: 10 } }), [])
    }).pipe(Effect.provide(serve({ SCHEDULER_ADMIN_TOKEN: "s3cret" }))))

  it.live("DELETE /users/:userId/auth-sessions ends all of the user's auth sessions with their media", () =>
    Effect.gen(function*() {
      const users = yield* UserRepo
      const sessions = yield* AuthSessionRepo
      const makeUser = (name: string) =>
        users.insert({
          email: Email.make(`${name.toLowerCase()}.${crypto.randomUUID().slice(0, 8)}@clinic.test`),
          name,
          role: "therapist",
          passwordHash: "x"
        }).pipe(Effect.orDie)
      const makeSession = (userId: UserId) =>
        Effect.flatMap(DateTime.now, (now) =>
          sessions.insert({
            userId,
            tokenHash: crypto.randomUUID(),
            expiresAt: DateTime.add(now, { days: 30 }),
            userAgent: null,
            ip: null
          }))
      const alice = yield* makeUser("Alice")
      const bob = yield* makeUser("Bob")
      const phone = yield* makeSession(alice.id)
      const laptop = yield* makeSession(alice.id)
      const bobs = yield* makeSession(bob.id)
      yield* sessions.addMedia({ authSessionId: phone.id, kind: "image", filePath: "sessions/a.png", sizeBytes: 3 })
      yield* sessions.addMedia({ authSessionId: bobs.id, kind: "image", filePath: "sessions/b.png", sizeBytes: 3 })

      const path = `/users/${alice.id}/auth-sessions`
      assert.strictEqual(yield* status(HttpClientRequest.del(path)), 401)
      assert.strictEqual((yield* sessions.listByUser(alice.id)).length, 2)

      const api = yield* client("s3cret")
      const ended = yield* api.authSessions.endForUser({ path: { userId: alice.id } })
      assert.deepStrictEqual(
        { ...ended },
        { userId: alice.id, deletedSessions: 2, deletedMedia: 1, removedFiles: 1 }
      )
      assert.deepStrictEqual(yield* sessions.listByUser(alice.id), [])
      assert.isTrue(yield* Effect.isFailure(sessions.findById(laptop.id)))
      assert.deepStrictEqual((yield* sessions.listByUser(bob.id)).map((s) => s.id), [bobs.id])
      assert.deepStrictEqual(yield* Ref.get(yield* RemovedMedia), ["sessions/a.png"])
      // Once more: nothing left. An unknown user is 404, a malformed id 400.
      assert.strictEqual((yield* api.authSessions.endForUser({ path: { userId: alice.id } })).deletedSessions, 0)
      const unknown = yield* Effect.flip(
        api.authSessions.endForUser({ path: { userId: UserId.make(crypto.randomUUID()) } })
      )
      assert.strictEqual(unknown._tag, "NotFound")
      assert.strictEqual(yield* status(HttpClientRequest.del("/users/not-a-uuid/auth-sessions"), "s3cret"), 400)
    }).pipe(Effect.provide(serve({ SCHEDULER_ADMIN_TOKEN: "s3cret" }))))

  it.live("queue metrics: JSON and Prometheus text, both behind the admin token", () =>
    Effect.gen(function*() {
      // One maintenance run, so that there are counts and a duration to report.
      yield* TaskQueue.enqueue(maintenancePrune, {}, { idempotencyKey: `metrics-${crypto.randomUUID()}` })
      const ran = yield* Worker.drain(yield* TaskRegistry, "maintenance")
      assert.deepStrictEqual(ran.map((r) => r.outcome), ["succeeded"])
      yield* TaskQueue.enqueue(maintenancePrune, {}, { delay: "1 hour" })

      assert.strictEqual(yield* status(HttpClientRequest.get("/metrics")), 401)
      assert.strictEqual(yield* status(HttpClientRequest.get("/queues/metrics"), "wrong"), 401)

      const metrics = yield* (yield* client("s3cret")).metrics.queues()
      const succeeded = metrics.runs.find((r) =>
        r.task === "maintenance.prune" && r.queue === "maintenance" && r.outcome === "succeeded"
      )
      assert.isAtLeast(succeeded?.count ?? 0, 1)
      const duration = metrics.durations.find((d) => d.task === "maintenance.prune")
      assert.isAtLeast(duration?.count ?? 0, 1)
      assert.deepStrictEqual(
        metrics.depth.find((d) => d.queue === "maintenance"),
        { queue: "maintenance", ready: 0, scheduled: 1, running: 0, dead: 0 }
      )
      // No worker or bus runs in this test app.
      assert.strictEqual(metrics.workers.state, "absent")

      const response = yield* HttpClient.execute(
        HttpClientRequest.bearerToken(HttpClientRequest.get("/metrics"), "s3cret")
      )
      assert.strictEqual(response.status, 200)
      assert.match(response.headers["content-type"] ?? "", /^text\/plain; version=0\.0\.4/)
      const text = yield* response.text
      assert.include(text, "# TYPE clinic_task_runs_total counter")
      assert.match(
        text,
        /clinic_task_runs_total\{task="maintenance.prune",queue="maintenance",outcome="succeeded"\} [1-9]/
      )
      assert.include(text, "# TYPE clinic_task_duration_seconds histogram")
    }).pipe(Effect.provide(Layer.merge(serve({ SCHEDULER_ADMIN_TOKEN: "s3cret" }), noMail))))

  it.live("errors have the API's JSON shape: unknown routes are a 404 RouteNotFound, request ids are echoed", () =>
    Effect.gen(function*() {
      const missing = yield* json(HttpClientRequest.get("/no-such-route"), "s3cret")
      assert.strictEqual(missing.status, 404)
      assert.deepStrictEqual(missing.body, {
        _tag: "RouteNotFound",
        message: "No endpoint for GET /no-such-route",
        method: "GET",
        path: "/no-such-route"
      })
      const given = yield* json(
        HttpClientRequest.get("/health").pipe(HttpClientRequest.setHeader("x-request-id", "op-1"))
      )
      assert.strictEqual(given.headers["x-request-id"], "op-1")
      assert.deepStrictEqual(given.body, { status: "ok", service: "scheduler" })
      const anonymous = yield* json(HttpClientRequest.get("/jobs"))
      assert.strictEqual(anonymous.status, 401)
      assert.strictEqual(anonymous.body._tag, "Unauthorized")
      const invalid = yield* json(HttpClientRequest.get(`/jobs/${BOOKING_HOLD_EXPIRY}?limit=0`), "s3cret")
      assert.strictEqual(invalid.body._tag, "HttpApiDecodeError")
      assert.match(invalid.body.message, /^limit: /)
      // The memory setup's SqlClient fails every query, as a database that is down does.
      const ready = yield* json(HttpClientRequest.get("/ready"))
      assert.strictEqual(ready.status, 503)
      assert.strictEqual(ready.body._tag, "NotReady")
    }).pipe(Effect.provide(serve({ SCHEDULER_ADMIN_TOKEN: "s3cret" }))))

  it.live("a defect is a sanitized 500 InternalError with the request id; the cause is only logged", () => {
    const { layer: capture, lines: logged } = captureLogs()
    const brokenCleanup = Layer.effect(
      SessionCleanup,
      Effect.map(SessionCleanup, (cleanup) =>
        SessionCleanup.make({
          ...cleanup,
          previewExpiredBookings: () => Effect.die(new Error("relation bookings_secret does not exist"))
        }))
    )
    return Effect.gen(function*() {
      const request = HttpClientRequest.get("/cleanup/preview/expired-bookings").pipe(
        HttpClientRequest.setHeader("x-request-id", "defect-1")
      )
      const { body, status } = yield* json(request, "s3cret")
      assert.strictEqual(status, 500)
      assert.deepStrictEqual(body, {
        _tag: "InternalError",
        message: "The server failed to handle this request; it has been logged",
        requestId: "defect-1"
      })
      const line = logged.find((entry) => entry.includes("request failed unexpectedly"))
      assert.include(line!, "bookings_secret")
      assert.include(line!, "defect-1")
    }).pipe(
      Effect.provide(
        AdminServeLive.pipe(
          Layer.provideMerge(NodeHttpServer.layerTest),
          Layer.provide(brokenCleanup),
          Layer.provideMerge(memoryApp({ SCHEDULER_ADMIN_TOKEN: "s3cret" })),
          Layer.provide(capture)
        )
      )
    )
  })
})
