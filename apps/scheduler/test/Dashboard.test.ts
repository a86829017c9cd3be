import { type EventId, SchedulerAdminApi } from "@clinic/domain"
import { OutboxStore } from "@clinic/events"
import { Mailer } from "@clinic/mail"
import { TaskStore } from "@clinic/queue"
import { RunStore } from "@clinic/scheduler-engine"
import { HttpApiClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Layer } from "effect"
import { AdminServeLive } from "../src/AdminHttp.js"
import { BOOKING_HOLD_EXPIRY, CALENDAR_SYNC } from "../src/Jobs.js"
import { memoryApp } from "./layers.js"

const TOKEN = "s3cret"
const noMail = Layer.succeed(Mailer, Mailer.of({ send: () => Effect.dieMessage("no mail in this test") }))

const serve = (env: Record<string, string> = {}) =>
  AdminServeLive.pipe(
    Layer.provideMerge(NodeHttpServer.layerTest),
    Layer.provideMerge(memoryApp({ SCHEDULER_ADMIN_TOKEN: TOKEN, ...env })),
    Layer.provide(noMail)
  )

const api = HttpApiClient.make(SchedulerAdminApi, {
  transformClient: HttpClient.mapRequest(HttpClientRequest.bearerToken(TOKEN))
})

/** A dead task whose payload holds personal data, as the worker leaves one. */
const deadTask = (queue = "email") =>
  Effect.gen(function*() {
    const store = yield* TaskStore
    const now = yield* DateTime.now
    const [inserted] = yield* store.insert([{
      name: "email.send",
      queue,
      payload: { to: "ada@example.org", patient: { name: "Ada" }, bookingId: "b-1" },
      priority: 0,
      maxAttempts: 1,
      runAt: now,
      idempotencyKey: null,
      traceParent: null,
      now
    }])
    const [claimed] = yield* store.claim(queue, {
      leaseId: crypto.randomUUID(),
      now,
      until: DateTime.add(now, { minutes: 1 })
    }, 1)
    yield* store.bury(claimed.id, claimed.leaseId!, { now, error: "SMTP 550" })
    return inserted.id
  })

const form = (path: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
  HttpClientRequest.post(path).pipe(HttpClientRequest.bodyUrlParams(fields), HttpClientRequest.setHeaders(headers))

const send = (request: HttpClientRequest.HttpClientRequest) =>
  Effect.gen(function*() {
    const response = yield* HttpClient.execute(request)
    return { status: response.status, headers: response.headers, text: yield* response.text }
  })

/** Signs in through the form; the session cookie and the page's CSRF token. */
const signIn = (operator: string) =>
  Effect.gen(function*() {
    const response = yield* send(form("/ui/sign-in", { operator, token: TOKEN }))
    assert.strictEqual(response.status, 303)
    const cookie = String(response.headers["set-cookie"]).split(";")[0]
    const page = yield* send(HttpClientRequest.get("/ui/jobs").pipe(HttpClientRequest.setHeader("cookie", cookie)))
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)![1]
    return { cookie, csrf, setCookie: String(response.headers["set-cookie"]), page }
  })

describe("admin API for the dashboard", () => {
  it.live("tasks: listed by queue and state with payloads redacted; requeue and discard only dead ones", () =>
    Effect.gen(function*() {
      const client = yield* api
      const id = yield* deadTask()
      const dead = yield* client.tasks.list({ urlParams: { queue: "email", status: "dead" } })
      assert.deepStrictEqual(dead.map((t) => t.id), [id])
      assert.deepStrictEqual(dead[0].payload, { to: "[redacted]", patient: { name: "[redacted]" }, bookingId: "b-1" })
      assert.strictEqual(dead[0].lastError, "SMTP 550")
      assert.deepStrictEqual(yield* client.tasks.list({ urlParams: { queue: "calendar" } }), [])

      const requeued = yield* client.tasks.requeue({ path: { id } })
      assert.strictEqual(requeued.status, "pending")
      const again = yield* Effect.flip(client.tasks.requeue({ path: { id } }))
      assert.strictEqual(again._tag, "InvalidTransition")
      const notDead = yield* Effect.flip(client.tasks.discard({ path: { id } }))
      assert.strictEqual(notDead._tag, "InvalidTransition")
      const missing = yield* Effect.flip(client.tasks.get({ path: { id: crypto.randomUUID() } }))
      assert.strictEqual(missing._tag, "NotFound")

      const other = yield* deadTask("calendar")
      yield* client.tasks.discard({ path: { id: other } })
      assert.strictEqual((yield* Effect.flip(client.tasks.get({ path: { id: other } })))._tag, "NotFound")

      const actions = yield* client.operations.actions({ urlParams: {} })
      assert.deepStrictEqual(actions.map((a) => [a.operator, a.action, a.target]), [
        ["admin-api", "task.discard", other],
        ["admin-api", "task.requeue", id]
      ])
    }).pipe(Effect.provide(serve())))

  it.live("bulk requeue puts a queue's dead tasks back and leaves other queues alone", () =>
    Effect.gen(function*() {
      const client = yield* api
      yield* deadTask("email")
      yield* deadTask("email")
      const calendar = yield* deadTask("calendar")
      const result = yield* client.tasks.requeueDead({ path: { queue: "email" } })
      assert.deepStrictEqual({ ...result }, { queue: "email", requeued: 2 })
      const depth = yield* client.tasks.depth()
      assert.deepStrictEqual(depth.map((d) => [d.queue, d.ready, d.dead]), [["calendar", 0, 1], ["email", 2, 0]])
      assert.strictEqual((yield* client.tasks.get({ path: { id: calendar } })).status, "dead")
      const throughput = yield* client.tasks.throughput()
      const calendarBuckets = throughput.find((q) => q.queue === "calendar")!.buckets
      assert.strictEqual(calendarBuckets.length, 12)
      assert.strictEqual(calendarBuckets.reduce((n, b) => n + b.dead, 0), 1)
    }).pipe(Effect.provide(serve())))

  it.live("runs filter by job, outcome and time; pause keeps its reason; replicas come from heartbeats", () =>
    Effect.gen(function*() {
      const client = yield* api
      const before = yield* DateTime.now
      yield* client.jobs.runNow({ path: { name: BOOKING_HOLD_EXPIRY } })
      yield* client.jobs.runNow({ path: { name: CALENDAR_SYNC } })
      const all = yield* client.jobs.runs({ urlParams: {} })
      assert.strictEqual(all.length, 2)
      const one = yield* client.jobs.runs({ urlParams: { job: CALENDAR_SYNC, outcome: "succeeded" } })
      assert.deepStrictEqual(one.map((r) => r.job), [CALENDAR_SYNC])
      assert.deepStrictEqual(yield* client.jobs.runs({ urlParams: { outcome: "failed" } }), [])
      assert.deepStrictEqual(yield* client.jobs.runs({ urlParams: { to: before } }), [])
      assert.strictEqual((yield* client.jobs.runs({ urlParams: { from: before } })).length, 2)

      const paused = yield* client.jobs.pause({ path: { name: CALENDAR_SYNC }, urlParams: { reason: "provider down" } })
      assert.strictEqual(paused.pausedReason, "provider down")
      assert.isNull((yield* client.jobs.resume({ path: { name: CALENDAR_SYNC } })).pausedReason)

      const runs = yield* RunStore
      const now = yield* DateTime.now
      yield* runs.beat({ replica: "a", startedAt: now, now, queues: ["email"] })
      yield* runs.beat({ replica: "b", startedAt: now, now: DateTime.subtract(now, { minutes: 5 }), queues: [] })
      const replicas = yield* client.operations.replicas()
      assert.deepStrictEqual(replicas.map((r) => [r.replica, r.alive, r.queues]).sort(), [
        ["a", true, ["email"]],
        ["b", false, []]
      ])
      const actions = yield* client.operations.actions({ urlParams: { limit: 10 } })
      assert.deepStrictEqual(actions.map((a) => [a.action, a.detail]), [
        ["job.resume", null],
        ["job.pause", "provider down"],
        ["job.run", null],
        ["job.run", null]
      ])
    }).pipe(Effect.provide(serve())))

  it.live("events: newest first, bodies redacted", () =>
    Effect.gen(function*() {
      const outbox = yield* OutboxStore
      const now = yield* DateTime.now
      const first = crypto.randomUUID() as EventId
      const second = crypto.randomUUID() as EventId
      yield* outbox.insert({
        id: first,
        type: "recording.failed",
        payload: { reason: "call me on 555 010 9999" },
        occurredAt: now,
        traceParent: null
      })
      yield* outbox.insert({
        id: second,
        type: "auth_session.expired",
        payload: { userId: "u-1", email: "ada@example.org" },
        occurredAt: DateTime.add(now, { seconds: 1 }),
        traceParent: null
      })
      const events = yield* (yield* api).operations.events({ urlParams: { limit: 10 } })
      assert.deepStrictEqual(events.map((e) => [e.id, e.payload]), [
        [second, { userId: "u-1", email: "[redacted]" }],
        [first, { reason: "call me on [redacted]" }]
      ])
    }).pipe(Effect.provide(serve())))

  it.live("the new endpoints need the admin token", () =>
    Effect.gen(function*() {
      for (const path of ["/tasks", "/runs", "/replicas", "/operator-actions", "/events", "/queues/throughput"]) {
        assert.strictEqual((yield* send(HttpClientRequest.get(path))).status, 401, path)
      }
    }).pipe(Effect.provide(serve())))
})

describe("dashboard HTTP", () => {
  it.live("signed out: pages send the browser to sign-in, the refresh gets 401, a wrong token is refused", () =>
    Effect.gen(function*() {
      const page = yield* send(HttpClientRequest.get("/ui/jobs"))
      assert.strictEqual(page.status, 303)
      assert.strictEqual(page.headers["location"], "/ui/sign-in")
      const fragment = yield* send(
        HttpClientRequest.get("/ui/jobs").pipe(HttpClientRequest.setHeader("x-dashboard-fragment", "1"))
      )
      assert.strictEqual(fragment.status, 401)
      const wrong = yield* send(form("/ui/sign-in", { operator: "Eve", token: "guess" }))
      assert.strictEqual(wrong.status, 401)
      assert.include(wrong.text, "Wrong admin token.")
      assert.isUndefined(wrong.headers["set-cookie"])
      const nameless = yield* send(form("/ui/sign-in", { operator: " ", token: TOKEN }))
      assert.strictEqual(nameless.status, 400)
      const foreign = yield* send(
        form("/ui/sign-in", { operator: "Eve", token: TOKEN }, { origin: "https://evil.example" })
      )
      assert.strictEqual(foreign.status, 403)
    }).pipe(Effect.provide(serve())))

  it.live("sign-in sets an HttpOnly SameSite=Strict cookie, pages carry their own CSP, names are escaped", () =>
    Effect.gen(function*() {
      const session = yield* signIn("<b>Grace</b>")
      assert.match(session.setCookie, /HttpOnly/)
      assert.match(session.setCookie, /SameSite=Strict/)
      assert.match(session.setCookie, /Path=\/ui/)
      assert.notMatch(session.setCookie, /Secure/)
      assert.strictEqual(session.page.status, 200)
      assert.include(session.page.text, "&lt;b&gt;Grace&lt;/b&gt;")
      assert.notInclude(session.page.text, "<b>Grace</b>")
      assert.match(String(session.page.headers["content-security-policy"]), /script-src 'self'/)
      const css = yield* send(HttpClientRequest.get("/ui/assets/dashboard.css"))
      assert.strictEqual(css.status, 200)
    }).pipe(Effect.provide(serve())))

  it.live("SCHEDULER_DASHBOARD_SECURE_COOKIE=true marks the cookie Secure", () =>
    Effect.gen(function*() {
      const session = yield* signIn("Grace")
      assert.match(session.setCookie, /Secure/)
    }).pipe(Effect.provide(serve({ SCHEDULER_DASHBOARD_SECURE_COOKIE: "true" }))))

  it.live("changes need the session's CSRF token and the same origin; done ones are recorded under the operator's name", () =>
    Effect.gen(function*() {
      const { cookie, csrf } = yield* signIn("Grace")
      const path = `/ui/jobs/${CALENDAR_SYNC}/pause`
      const missing = yield* send(form(path, { reason: "x" }, { cookie }))
      assert.strictEqual(missing.status, 403)
      const wrong = yield* send(form(path, { reason: "x", _csrf: csrf.slice(1) + "A" }, { cookie }))
      assert.strictEqual(wrong.status, 403)
      const foreign = yield* send(form(path, { reason: "x", _csrf: csrf }, { cookie, origin: "https://evil.example" }))
      assert.strictEqual(foreign.status, 403)
      const noSession = yield* send(form(path, { reason: "x", _csrf: csrf }))
      assert.strictEqual(noSession.status, 401)
      const client = yield* api
      assert.isFalse((yield* client.jobs.get({ path: { name: CALENDAR_SYNC }, urlParams: {} })).status.paused)

      const done = yield* send(form(path, { reason: "feed down", _csrf: csrf, back: "//evil.example/x" }, { cookie }))
      assert.strictEqual(done.status, 303)
      assert.strictEqual(done.headers["location"], "/ui/jobs")
      assert.strictEqual(
        (yield* client.jobs.get({ path: { name: CALENDAR_SYNC }, urlParams: {} })).status.pausedReason,
        "feed down"
      )

      const id = yield* deadTask()
      const task = yield* send(
        HttpClientRequest.get(`/ui/tasks/${id}`).pipe(HttpClientRequest.setHeader("cookie", cookie))
      )
      assert.include(task.text, "[redacted]")
      assert.notInclude(task.text, "ada@example.org")
      const discarded = yield* send(form(`/ui/tasks/${id}/discard`, { _csrf: csrf }, { cookie }))
      assert.strictEqual(discarded.status, 303)
      const twice = yield* send(form(`/ui/tasks/${id}/discard`, { _csrf: csrf }, { cookie }))
      assert.strictEqual(twice.status, 404)

      const signOut = yield* send(form("/ui/sign-out", { _csrf: csrf }, { cookie }))
      assert.strictEqual(signOut.status, 303)
      const after = yield* send(HttpClientRequest.get("/ui/jobs").pipe(HttpClientRequest.setHeader("cookie", cookie)))
      assert.strictEqual(after.status, 303)

      const actions = yield* client.operations.actions({ urlParams: {} })
      assert.deepStrictEqual(actions.map((a) => [a.operator, a.action]), [
        ["Grace", "sign-out"],
        ["Grace", "task.discard"],
        ["Grace", "job.pause"],
        ["Grace", "sign-in"]
      ])
    }).pipe(Effect.provide(serve())))
})
