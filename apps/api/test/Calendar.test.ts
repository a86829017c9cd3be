import { OutboxStore } from "@clinic/events"
import { TaskStore } from "@clinic/queue"
import { ExternalCalendarRepo, IdempotencyRepo, layerPg as RepositoriesPg, MemoryDb } from "@clinic/repository"
import * as TestDatabase from "@clinic/repository/testing/TestDatabase"
import { spanText } from "@clinic/testing"
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Layer, Logger, Option, Ref, TestClock, Tracer } from "effect"
import ICAL from "ical.js"
import { createHash } from "node:crypto"
import { Recordings } from "../src/Recordings.js"
import {
  at,
  clientFor,
  makeTherapist,
  memoryServer,
  postBooking,
  postgresServer,
  serve,
  startClock,
  therapistWithPatient
} from "./support/TestApi.js"

const hours = (from: number, to: number) => ({ startsAt: at(`${from} hours`), endsAt: at(`${to} hours`) })

const get = (path: string) =>
  Effect.gen(function*() {
    const response = yield* HttpClient.execute(HttpClientRequest.get(path))
    return { status: response.status, contentType: response.headers["content-type"], text: yield* response.text }
  })

const parseFeed = (text: string) => {
  const calendar = new ICAL.Component(ICAL.parse(text))
  return calendar.getAllSubcomponents("vevent").map((component) => {
    const event = new ICAL.Event(component)
    return {
      uid: event.uid,
      start: event.startDate.toJSDate().toISOString(),
      end: event.endDate.toJSDate().toISOString(),
      status: String(component.getFirstPropertyValue("status")),
      summary: event.summary
    }
  })
}

const syncTasks = Effect.flatMap(TaskStore, (store) => store.list({ name: "calendar.sync-feed", limit: 20 }))

/**
 * `POST /calendar/external` queues the feed's first sync (run by the scheduler's calendar queue)
 * with the feed, due now: it is synced without waiting for the periodic `calendar-sync`.
 */
const addingQueuesSync = Effect.gen(function*() {
  yield* startClock
  const { client, user } = yield* therapistWithPatient
  const added = yield* client.calendar.addExternal({ payload: { url: "https://example.com/new.ics" } })
  const queued = yield* syncTasks
  assert.deepStrictEqual(queued.map((t) => [t.queue, t.payload, t.status]), [
    ["calendar", { therapistId: user.id, calendarId: added.id }, "pending"]
  ])
  assert.deepStrictEqual(queued[0].runAt, yield* DateTime.now)
  // A refused add queues nothing.
  const again = yield* Effect.flip(client.calendar.addExternal({ payload: { url: "https://example.com/new.ics" } }))
  assert.strictEqual(again._tag, "ExternalCalendarExists")
  assert.strictEqual((yield* syncTasks).length, 1)
})

/** Bookings in every state, and the feed as a calendar app would read it. */
const feedScenario = Effect.gen(function*() {
  yield* startClock
  const { client, patient } = yield* therapistWithPatient
  const book = (from: number, to: number) =>
    client.bookings.create({ headers: {}, payload: { patientId: patient.id, ...hours(from, to) } })
  const lapsed = yield* book(20, 21)
  yield* TestClock.adjust("15 minutes")
  const confirmed = yield* book(24, 25)
  yield* client.bookings.confirm({ path: { id: confirmed.id } })
  const cancelled = yield* book(26, 27)
  yield* client.bookings.cancel({ path: { id: cancelled.id } })
  const pending = yield* book(28.5, 29.25)
  // Another therapist's booking never shows.
  const other = yield* therapistWithPatient
  yield* other.client.bookings.create({ headers: {}, payload: { patientId: other.patient.id, ...hours(30, 31) } })

  const created = yield* client.calendar.createFeed()
  return { client, created, lapsed, confirmed, cancelled, pending }
})

describe("calendar feed over HTTP (memory)", () => {
  it.effect("the feed imports into ical.js with the right times and statuses, without bearer auth", () =>
    Effect.gen(function*() {
      const { cancelled, confirmed, created, lapsed, pending } = yield* feedScenario
      assert.match(created.path, /^\/calendar\/[A-Za-z0-9_-]{43}\.ics$/)
      assert.strictEqual(created.url, `http://127.0.0.1:3000${created.path}`)
      assert.deepStrictEqual(created.createdAt, at("15 minutes"))

      const response = yield* get(created.path)
      assert.strictEqual(response.status, 200)
      assert.match(response.contentType!, /^text\/calendar/)
      const events = parseFeed(response.text)
      assert.deepStrictEqual(events, [
        {
          uid: `${confirmed.id}@clinic.localhost`,
          start: "2026-03-03T09:00:00.000Z",
          end: "2026-03-03T10:00:00.000Z",
          status: "CONFIRMED",
          summary: "Clinic session"
        },
        {
          uid: `${cancelled.id}@clinic.localhost`,
          start: "2026-03-03T11:00:00.000Z",
          end: "2026-03-03T12:00:00.000Z",
          status: "CANCELLED",
          summary: "Clinic session"
        },
        {
          uid: `${pending.id}@clinic.localhost`,
          start: "2026-03-03T13:30:00.000Z",
          end: "2026-03-03T14:15:00.000Z",
          status: "TENTATIVE",
          summary: "Clinic session (unconfirmed)"
        }
      ])
      assert.notInclude(response.text, lapsed.id)

      // The typed client reaches the same endpoint.
      const file = created.path.slice("/calendar/".length)
      const typed = yield* (yield* clientFor(yield* makeTherapist())).calendarFeed.feed({ path: { file } })
      assert.strictEqual(typed, response.text)

      // When the pending hold lapses, the booking leaves the feed.
      yield* TestClock.adjust("15 minutes")
      assert.notInclude((yield* get(created.path)).text, pending.id)
    }).pipe(Effect.provide(memoryServer())))

  it.effect("only the token's digest is stored; a new token revokes the old; revoked and unknown tokens are 404", () =>
    Effect.gen(function*() {
      yield* startClock
      const { client, user } = yield* therapistWithPatient
      const first = yield* client.calendar.createFeed()
      const token = first.path.slice("/calendar/".length, -".ics".length)
      const stored = (yield* Ref.get(yield* MemoryDb)).calendarFeedTokens.get(user.id)!
      assert.strictEqual(stored.tokenHash, createHash("sha256").update(token).digest("hex"))
      assert.notStrictEqual(stored.tokenHash, token)

      const second = yield* client.calendar.createFeed()
      assert.notStrictEqual(second.path, first.path)
      assert.strictEqual((yield* get(first.path)).status, 404)
      assert.strictEqual((yield* get(second.path)).status, 200)

      yield* client.calendar.revokeFeed()
      const revoked = yield* get(second.path)
      assert.strictEqual(revoked.status, 404)
      assert.strictEqual(JSON.parse(revoked.text)._tag, "NotFound")
      // Revoking twice is fine.
      yield* client.calendar.revokeFeed()

      assert.strictEqual((yield* get(`/calendar/${"A".repeat(43)}.ics`)).status, 404)
      assert.strictEqual((yield* get(`/calendar/${token}`)).status, 404)
      // Managing the feed needs a session.
      const anonymous = yield* HttpClient.execute(HttpClientRequest.post("/calendar/feed"))
      assert.strictEqual(anonymous.status, 401)
    }).pipe(Effect.provide(memoryServer())))

  it.effect("external calendars: add, list, remove; duplicates and bad URLs refused; owners only", () =>
    Effect.gen(function*() {
      yield* startClock
      const { client, user } = yield* therapistWithPatient
      const raw = (body: unknown) =>
        Effect.gen(function*() {
          const response = yield* HttpClient.execute(
            HttpClientRequest.post("/calendar/external").pipe(
              HttpClientRequest.bearerToken(user.id),
              HttpClientRequest.bodyUnsafeJson(body)
            )
          )
          return { status: response.status, body: yield* response.json }
        })
      const created = yield* raw({ url: " webcal://calendar.example.com/private/abc.ics ", label: "Personal" })
      assert.strictEqual(created.status, 201)
      const added = (yield* client.calendar.listExternal())[0]
      assert.strictEqual(added.url, "webcal://calendar.example.com/private/abc.ics")
      assert.strictEqual(added.label, "Personal")
      assert.isNull(added.lastSyncedAt)
      const again = yield* Effect.flip(
        client.calendar.addExternal({ payload: { url: "webcal://calendar.example.com/private/abc.ics" } })
      )
      assert.strictEqual(again._tag, "ExternalCalendarExists")
      for (const url of ["ftp://example.com/x.ics", "not a url", "https://"]) {
        const bad = yield* raw({ url })
        assert.strictEqual(bad.status, 400, url)
        assert.deepInclude(bad.body, { _tag: "HttpApiDecodeError" }, url)
      }
      for (let i = 1; i < 10; i++) {
        yield* client.calendar.addExternal({ payload: { url: `https://example.com/${i}.ics` } })
      }
      const tooMany = yield* Effect.flip(
        client.calendar.addExternal({ payload: { url: "https://example.com/11.ics" } })
      )
      assert.strictEqual(tooMany._tag, "TooManyExternalCalendars")
      assert.strictEqual((yield* client.calendar.listExternal()).length, 10)

      const other = yield* clientFor(yield* makeTherapist())
      assert.deepStrictEqual(yield* other.calendar.listExternal(), [])
      const notTheirs = yield* Effect.flip(other.calendar.removeExternal({ path: { id: added.id } }))
      assert.strictEqual(notTheirs._tag, "NotFound")
      yield* client.calendar.removeExternal({ path: { id: added.id } })
      assert.isFalse((yield* client.calendar.listExternal()).some((c) => c.id === added.id))
    }).pipe(Effect.provide(memoryServer())))

  it.effect("adding an external calendar queues its first sync with it", () =>
    addingQueuesSync.pipe(Effect.provide(memoryServer())))

  it.effect("an imported busy time makes POST /bookings a 409 BusyInExternalCalendar, replayed under its key", () =>
    Effect.gen(function*() {
      yield* startClock
      const { client, patient, user } = yield* therapistWithPatient
      const external = yield* client.calendar.addExternal({ payload: { url: "https://example.com/busy.ics" } })
      yield* Effect.flatMap(ExternalCalendarRepo, (repo) => repo.replaceBusy(external.id, [hours(24, 25)]))

      const refused = yield* Effect.flip(
        client.bookings.create({ headers: {}, payload: { patientId: patient.id, ...hours(24.5, 25.5) } })
      )
      assert.strictEqual(refused._tag, "BusyInExternalCalendar")
      const body = { patientId: patient.id, startsAt: at("24 hours"), endsAt: at("25 hours") }
      const first = yield* postBooking(user.id, "busy-key", body)
      assert.strictEqual(first.status, 409)
      assert.strictEqual(first.body._tag, "BusyInExternalCalendar")
      assert.strictEqual(first.body.calendarId, external.id)
      assert.deepStrictEqual(yield* postBooking(user.id, "busy-key", body), first)
      // Removing the calendar removes its busy times.
      yield* client.calendar.removeExternal({ path: { id: external.id } })
      const booked = yield* client.bookings.create({
        headers: {},
        payload: { patientId: patient.id, ...hours(24, 25) }
      })
      assert.strictEqual(booked.status, "pending")
    }).pipe(Effect.provide(memoryServer())))

  it.effect("the access log never carries the feed token", () => {
    const lines: Array<string> = []
    const collect = Logger.make(({ annotations, message }) => {
      lines.push(JSON.stringify({ message, annotations: Object.fromEntries(annotations) }))
    })
    return Effect.gen(function*() {
      yield* startClock
      const { client } = yield* therapistWithPatient
      const created = yield* client.calendar.createFeed()
      assert.strictEqual((yield* get(created.path)).status, 200)
      assert.strictEqual((yield* get(`/calendar/${"B".repeat(43)}.ics`)).status, 404)
      const token = created.path.slice("/calendar/".length, -".ics".length)
      assert.isTrue(lines.some((line) => line.includes("calendar feed sent")))
      assert.isTrue(lines.some((line) => line.includes("calendar feed refused")))
      assert.isFalse(lines.some((line) => line.includes(token) || line.includes("B".repeat(43))), lines.join("\n"))
      // Other requests are still logged.
      assert.isTrue(lines.some((line) => line.includes("/calendar/feed")))
    }).pipe(Effect.provide(memoryServer().pipe(Layer.provide(Logger.replace(Logger.defaultLogger, collect)))))
  })

  it.effect("no span of a feed request carries its token: the server's span has the redacted path", () => {
    const spans: Array<Tracer.Span> = []
    const recording = Effect.map(Effect.tracer, (base) =>
      Tracer.make({
        span: (...args) => {
          const span = base.span(...args)
          spans.push(span)
          return span
        },
        context: base.context
      }))
    return Effect.gen(function*() {
      yield* startClock
      const { client } = yield* therapistWithPatient
      const created = yield* client.calendar.createFeed()
      const token = created.path.slice("/calendar/".length, -".ics".length)
      const unknown = "B".repeat(43)
      assert.strictEqual((yield* get(created.path)).status, 200)
      assert.strictEqual((yield* get(`/calendar/${unknown}.ics`)).status, 404)
      const feedSpans = spans.filter((span) => span.name === "Calendar.feed")
      assert.strictEqual(feedSpans.length, 2)
      const servers = feedSpans.map((span) => Option.getOrThrow(span.parent) as Tracer.Span)
      assert.deepStrictEqual(servers.map((span) => span.attributes.get("url.path")), [
        "/calendar/<redacted>.ics",
        "/calendar/<redacted>.ics"
      ])
      // The client spans are the test's own requests (the calendar app's side), which know the URL.
      for (const span of spans.filter((span) => span.kind !== "client")) {
        const text = spanText(span)
        assert.notInclude(text, token, text)
        assert.notInclude(text, unknown, text)
      }
    }).pipe(
      Effect.provide(memoryServer().pipe(Layer.provide(Layer.unwrapEffect(Effect.map(recording, Layer.setTracer)))))
    )
  })
})

/** The Postgres task store, except that a sync of a feed cannot be queued. */
const syncNotQueued = Layer.effect(
  TaskStore,
  Effect.map(TaskStore, (store) =>
    TaskStore.of({
      ...store,
      insert: (tasks) =>
        tasks.some((task) => task.name === "calendar.sync-feed")
          ? Effect.zipRight(store.insert(tasks), Effect.dieMessage("the task table is unavailable"))
          : store.insert(tasks)
    }))
).pipe(Layer.provide(TaskStore.layerPg))

describe("calendar feed over HTTP (Postgres)", () => {
  it.effect("adding an external calendar queues its first sync in the insert's transaction", () =>
    addingQueuesSync.pipe(Effect.provide(postgresServer())))

  it.effect("a feed whose sync cannot be queued is not added either (one transaction)", () =>
    Effect.gen(function*() {
      yield* startClock
      const { client } = yield* therapistWithPatient
      const failed = yield* Effect.flip(client.calendar.addExternal({ payload: { url: "https://example.com/x.ics" } }))
      assert.strictEqual(failed._tag, "InternalError")
      assert.deepStrictEqual(yield* client.calendar.listExternal(), [])
      assert.deepStrictEqual(yield* syncTasks, [])
    }).pipe(Effect.provide(
      serve(
        Layer.mergeAll(RepositoriesPg, IdempotencyRepo.layerPg, OutboxStore.layerPg, syncNotQueued).pipe(
          Layer.provideMerge(TestDatabase.layer)
        ),
        Recordings
      )
    )))

  it.effect("the feed of a therapist with bookings imports into ical.js with the right times", () =>
    Effect.gen(function*() {
      const { cancelled, confirmed, created, pending } = yield* feedScenario
      const events = parseFeed((yield* get(created.path)).text)
      assert.deepStrictEqual(events.map((e) => [e.uid.split("@")[0], e.start, e.end, e.status]), [
        [confirmed.id, "2026-03-03T09:00:00.000Z", "2026-03-03T10:00:00.000Z", "CONFIRMED"],
        [cancelled.id, "2026-03-03T11:00:00.000Z", "2026-03-03T12:00:00.000Z", "CANCELLED"],
        [pending.id, "2026-03-03T13:30:00.000Z", "2026-03-03T14:15:00.000Z", "TENTATIVE"]
      ])
      yield* (yield* clientFor(yield* makeTherapist())).calendar.revokeFeed()
      assert.strictEqual((yield* get(created.path)).status, 200)
    }).pipe(Effect.provide(postgresServer())))
})
