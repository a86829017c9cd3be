import { PatientId } from "@clinic/domain"
import { Registry, TaskStore, Worker } from "@clinic/queue"
import { BookingRepo, ExternalCalendarRepo, PatientRepo, UserRepo } from "@clinic/repository"
import * as Repositories from "@clinic/repository/Repositories"
import * as TestDatabase from "@clinic/repository/testing/TestDatabase"
import { recordSpans, spanText } from "@clinic/testing"
import { assert, describe, it } from "@effect/vitest"
import { Cause, ConfigProvider, DateTime, Duration, Effect, Exit, Fiber, Layer, Option, TestClock } from "effect"
import {
  CALENDAR_QUEUE,
  calendarQueue,
  CalendarSyncConfig,
  enqueueFeedSync,
  enqueueFeedSyncs,
  ExternalCalendarSync,
  REDACTED_FEED_PATH,
  syncFeedTask
} from "../src/ExternalCalendarSync.js"
import { clientLayer, isPrivateAddress } from "../src/FeedAddress.js"
import { calendar, event } from "./IcsFixtures.js"
import { ics, IcsServer } from "./IcsServer.js"

const T0 = DateTime.unsafeMake("2026-03-02T09:00:00.000Z")
const startClock = TestClock.setTime(T0.epochMillis)
const at = (hours: number) => DateTime.add(T0, { minutes: hours * 60 })

// The test server is on 127.0.0.1, which production settings refuse to fetch.
const syncLayer = <A, E>(repositories: Layer.Layer<A, E>, allowPrivateNetworks = true) =>
  ExternalCalendarSync.DefaultWithoutDependencies.pipe(
    Layer.provideMerge(repositories),
    Layer.provide(clientLayer(allowPrivateNetworks)),
    Layer.provide(
      CalendarSyncConfig.layerWith({ maxBytes: 4096, timeout: Duration.seconds(30), allowPrivateNetworks })
    )
  )

const memory = syncLayer(Layer.merge(Repositories.layerMemory, TaskStore.layerMemory))
const postgres = syncLayer(
  Layer.merge(Repositories.layerPg, TaskStore.layerPg).pipe(Layer.provideMerge(TestDatabase.layer))
)

/** The calendar queue's tasks, as the scheduler's workers run them. */
const registry = Registry.make({ tasks: [syncFeedTask], queues: [{ name: CALENDAR_QUEUE, concurrency: 1 }] })

const oneBusyHour = calendar(event("meeting", "DTSTART:20260303T100000Z", "DTEND:20260303T110000Z"))

const therapistWithFeed = (url: string) =>
  Effect.gen(function*() {
    const therapist = yield* Effect.flatMap(UserRepo, (users) =>
      users.insert({
        email: `t.${crypto.randomUUID().slice(0, 8)}@clinic.test` as never,
        name: "Dr Sync",
        role: "therapist",
        passwordHash: "x"
      })).pipe(Effect.orDie)
    const patient = yield* Effect.flatMap(PatientRepo, (repo) =>
      repo.insert({ therapistId: therapist.id, name: "Pat", email: null, phone: null, notes: null }))
    const feed = yield* Effect.flatMap(ExternalCalendarRepo, (repo) =>
      repo.add({ therapistId: therapist.id, url, label: null }, 10)).pipe(Effect.orDie)
    const book = (from: number, to: number) =>
      Effect.flatMap(BookingRepo, (repo) =>
        repo.insert({
          therapistId: therapist.id,
          patientId: PatientId.make(patient.id),
          startsAt: at(from),
          endsAt: at(to),
          holdExpiresAt: at(0.25)
        }))
    return { therapist, feed, book }
  })

type Needs = ExternalCalendarSync | ExternalCalendarRepo | BookingRepo | PatientRepo | UserRepo | TaskStore

const suite = (name: string, layer: Layer.Layer<Needs, unknown>) =>
  describe(`external calendar sync (${name})`, () => {
    it.scoped("imports busy times from an HTTP feed; they block bookings until a new import drops them", () =>
      Effect.gen(function*() {
        yield* startClock
        const server = yield* IcsServer
        server.set("/cal.ics", ics(oneBusyHour))
        const { book, feed } = yield* therapistWithFeed(server.url("/cal.ics"))
        const sync = yield* ExternalCalendarSync
        const repo = yield* ExternalCalendarRepo

        assert.strictEqual(yield* sync.syncOne(feed), 1)
        assert.deepStrictEqual(yield* repo.busy(feed.id), [{ startsAt: at(25), endsAt: at(26) }])
        // 2026-03-03T10:00Z is T0 + 25 hours.
        const refused = yield* Effect.flip(book(25.5, 26.5))
        assert.strictEqual(refused._tag, "BusyInExternalCalendar")
        assert.strictEqual((yield* book(26, 27)).status, "pending")

        server.set("/cal.ics", ics(calendar()))
        yield* TestClock.adjust("15 minutes")
        assert.strictEqual(yield* sync.syncOne(feed), 0)
        assert.strictEqual((yield* book(25, 26)).status, "pending")
        const [stored] = yield* repo.list(feed.therapistId)
        assert.deepStrictEqual(stored.lastSyncedAt, at(0.25))
      }).pipe(Effect.provide(layer)))

    it.scoped("a broken feed fails with a typed reason, is recorded, and keeps the previous import", () =>
      Effect.gen(function*() {
        yield* startClock
        const server = yield* IcsServer
        server.set("/cal.ics", ics(oneBusyHour))
        const { book, feed } = yield* therapistWithFeed(server.url("/cal.ics"))
        const sync = yield* ExternalCalendarSync
        const repo = yield* ExternalCalendarRepo
        yield* sync.syncOne(feed)

        const cases = [
          { route: ics("server error", 500), reason: "status" },
          { route: ics("<html>login page</html>"), reason: "invalid" },
          { route: ics(`${oneBusyHour}${"X".repeat(5000)}`), reason: "too-large" },
          // No Content-Length: the limit is counted on the stream.
          {
            route: { _tag: "Body", status: 200, body: "Y".repeat(5000), headers: { "transfer-encoding": "chunked" } },
            reason: "too-large"
          }
        ] as const
        for (const { reason, route } of cases) {
          server.set("/cal.ics", route)
          const error = yield* Effect.flip(sync.syncOne(feed))
          assert.strictEqual(error._tag, "ExternalCalendarSyncError")
          assert.strictEqual(error.reason, reason)
          assert.strictEqual(error.calendarId, feed.id)
          const [stored] = yield* repo.list(feed.therapistId)
          assert.isTrue(stored.lastError!.startsWith(reason), stored.lastError!)
          assert.deepStrictEqual(stored.lastSyncedAt, at(0))
          assert.deepStrictEqual(yield* repo.busy(feed.id), [{ startsAt: at(25), endsAt: at(26) }])
        }
        assert.strictEqual((yield* Effect.flip(book(25, 26)))._tag, "BusyInExternalCalendar")

        const unreachable = yield* ExternalCalendarRepo.pipe(
          Effect.flatMap((r) =>
            r.add({ therapistId: feed.therapistId, url: "http://127.0.0.1:1/x.ics", label: null }, 10)
          ),
          Effect.orDie
        )
        assert.strictEqual((yield* Effect.flip(sync.syncOne(unreachable))).reason, "unreachable")
      }).pipe(Effect.provide(layer)))

    it.scoped("a feed that never answers times out on the Clock and keeps the previous import", () =>
      Effect.gen(function*() {
        yield* startClock
        const server = yield* IcsServer
        server.set("/cal.ics", ics(oneBusyHour))
        const { feed } = yield* therapistWithFeed(server.url("/cal.ics"))
        const sync = yield* ExternalCalendarSync
        yield* sync.syncOne(feed)
        server.set("/cal.ics", { _tag: "Hang" })
        const fiber = yield* Effect.fork(sync.syncOne(feed))
        yield* server.hanging
        yield* TestClock.adjust("1 minute")
        const exit = yield* Fiber.await(fiber)
        assert.isTrue(Exit.isFailure(exit))
        const error = yield* Effect.flip(exit)
        assert.strictEqual(error.reason, "timeout")
        assert.strictEqual((yield* ExternalCalendarRepo.pipe(Effect.flatMap((r) => r.busy(feed.id)))).length, 1)
      }).pipe(Effect.provide(layer)))

    it.scoped("a periodic tick queues one sync per feed, once per tick; one broken feed does not stop the others", () =>
      Effect.gen(function*() {
        yield* startClock
        const server = yield* IcsServer
        server.set("/good.ics", ics(oneBusyHour))
        server.set("/bad.ics", ics("nope", 503))
        const good = yield* therapistWithFeed(server.url("/good.ics"))
        const bad = yield* therapistWithFeed(server.url("/bad.ics"))
        const checked = yield* registry
        const repo = yield* ExternalCalendarRepo

        assert.deepStrictEqual(yield* enqueueFeedSyncs(T0), { feeds: 2, enqueued: 2 })
        // The same tick again (another replica, a run taken over) queues nothing more.
        assert.deepStrictEqual(yield* enqueueFeedSyncs(T0), { feeds: 2, enqueued: 0 })
        const keys = (yield* Effect.flatMap(TaskStore, (s) => s.list({ name: syncFeedTask.name, limit: 10 })))
          .map((task) => task.idempotencyKey).sort()
        assert.deepStrictEqual(
          keys,
          [
            `calendar.sync-feed:${good.feed.id}:2026-03-02T09:00:00.000Z`,
            `calendar.sync-feed:${bad.feed.id}:2026-03-02T09:00:00.000Z`
          ].sort()
        )

        const ran = yield* Worker.drain(checked, CALENDAR_QUEUE)
        assert.deepStrictEqual(ran.map((r) => r.outcome).sort(), ["retried", "succeeded"])
        assert.strictEqual((yield* repo.list(bad.therapist.id))[0].lastError, "status: the server answered HTTP 503")
        assert.strictEqual((yield* Effect.flip(good.book(25, 26)))._tag, "BusyInExternalCalendar")

        // The broken feed's task retries after its backoff; by then the feed answers.
        server.set("/bad.ics", ics(oneBusyHour))
        yield* TestClock.adjust("2 minutes")
        assert.deepStrictEqual((yield* Worker.drain(checked, CALENDAR_QUEUE)).map((r) => r.outcome), ["succeeded"])
        assert.isNull((yield* repo.list(bad.therapist.id))[0].lastError)

        // The next tick queues both again.
        assert.deepStrictEqual(yield* enqueueFeedSyncs(at(0.25)), { feeds: 2, enqueued: 2 })
      }).pipe(Effect.provide(layer)))

    it.scoped("a feed removed before its sync ran is no error", () =>
      Effect.gen(function*() {
        yield* startClock
        const server = yield* IcsServer
        server.set("/cal.ics", ics(oneBusyHour))
        const { feed, therapist } = yield* therapistWithFeed(server.url("/cal.ics"))
        yield* enqueueFeedSync(feed)
        yield* Effect.flatMap(ExternalCalendarRepo, (repo) => repo.remove(therapist.id, feed.id))
        const ran = yield* Worker.drain(yield* registry, CALENDAR_QUEUE)
        assert.deepStrictEqual(ran.map((r) => r.outcome), ["succeeded"])
        assert.strictEqual(server.requests(), 0)
      }).pipe(Effect.provide(layer)))
  })

describe("the calendar queue", () => {
  it.effect("works CALENDAR_SYNC_CONCURRENCY feeds at once", () =>
    Effect.gen(function*() {
      const queue = (env: Record<string, string>) =>
        calendarQueue.pipe(
          Effect.provide(CalendarSyncConfig.Default),
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))
        )
      assert.deepStrictEqual(yield* queue({}), { name: CALENDAR_QUEUE, concurrency: 4 })
      assert.deepStrictEqual(yield* queue({ CALENDAR_SYNC_CONCURRENCY: "2" }), { name: CALENDAR_QUEUE, concurrency: 2 })
    }))
})

describe("external calendar sync: where it fetches from", () => {
  it.scoped("redirects are followed a few hops; loops fail", () =>
    Effect.gen(function*() {
      yield* startClock
      const server = yield* IcsServer
      server.set("/cal.ics", ics(oneBusyHour))
      server.set("/moved.ics", { _tag: "Body", status: 301, body: "", headers: { location: "/cal.ics" } })
      server.set("/loop.ics", { _tag: "Body", status: 302, body: "", headers: { location: "/loop.ics" } })
      const { feed } = yield* therapistWithFeed(server.url("/moved.ics"))
      const sync = yield* ExternalCalendarSync
      assert.strictEqual(yield* sync.syncOne(feed), 1)
      const loop = yield* ExternalCalendarRepo.pipe(
        Effect.flatMap((r) => r.add({ therapistId: feed.therapistId, url: server.url("/loop.ics"), label: null }, 10)),
        Effect.orDie
      )
      const error = yield* Effect.flip(sync.syncOne(loop))
      assert.deepStrictEqual([error.reason, error.message], ["status", "too many redirects"])
    }).pipe(Effect.provide(memory)))

  it.scoped("by default, loopback and private hosts are refused before any request", () =>
    Effect.gen(function*() {
      yield* startClock
      const server = yield* IcsServer
      server.set("/cal.ics", ics(oneBusyHour))
      const { feed } = yield* therapistWithFeed(server.url("/cal.ics"))
      const sync = yield* ExternalCalendarSync
      const error = yield* Effect.flip(sync.syncOne(feed))
      assert.deepStrictEqual([error.reason, error.message], ["forbidden", "the host 127.0.0.1 is on a private network"])
      assert.strictEqual(server.requests(), 0)
      const repo = yield* ExternalCalendarRepo
      for (const url of ["http://localhost:1/x.ics", "http://169.254.169.254/latest", "http://[::1]/x.ics"]) {
        const other = yield* repo.add({ therapistId: feed.therapistId, url, label: null }, 10).pipe(Effect.orDie)
        assert.strictEqual((yield* Effect.flip(sync.syncOne(other))).reason, "forbidden", url)
      }
    }).pipe(Effect.provide(syncLayer(Repositories.layerMemory, false))))

  it.scoped("the local server, reachable through every spelling of its address, is never fetched by default", () =>
    Effect.gen(function*() {
      yield* startClock
      const server = yield* IcsServer
      server.set("/cal.ics", ics(oneBusyHour))
      const port = new URL(server.url("/")).port
      const sync = (url: string, allowPrivateNetworks: boolean) =>
        Effect.gen(function*() {
          const { feed } = yield* therapistWithFeed(url)
          return yield* Effect.either((yield* ExternalCalendarSync).syncOne(feed))
        }).pipe(Effect.provide(syncLayer(Repositories.layerMemory, allowPrivateNetworks)))
      const spellings = [
        "127.0.0.1",
        "127.1",
        "2130706433",
        "0x7f000001",
        "0.0.0.0",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "[0:0:0:0:0:ffff:127.0.0.1]",
        "localhost"
      ]
      for (const host of spellings) {
        const url = `http://${host}:${port}/cal.ics`
        const allowed = yield* sync(url, true)
        assert.isTrue(allowed._tag === "Right", `${host} is reachable: ${JSON.stringify(allowed)}`)
        const before = server.requests()
        const refused = yield* sync(url, false)
        assert.isTrue(
          refused._tag === "Left" && refused.left.reason === "forbidden",
          `${host}: ${JSON.stringify(refused)}`
        )
        assert.strictEqual(server.requests(), before, host)
      }
      // Addresses with nothing listening: refused before any connection is tried.
      const unreachable = [
        "169.254.169.254",
        "[::ffff:169.254.169.254]",
        "[::ffff:a9fe:a9fe]",
        "[64:ff9b::a9fe:a9fe]",
        "[2002:a9fe:a9fe::1]",
        "[2001:0:4136:e378:8000:63bf:3fff:fdd2]",
        "[fe80::1]",
        "[fd00::1]",
        "[::]",
        "10.0.0.1",
        "100.64.0.1",
        "192.168.0.1",
        "224.0.0.1",
        "255.255.255.255",
        "240.0.0.1"
      ]
      for (const host of unreachable) {
        const refused = yield* sync(`http://${host}/latest/meta-data`, false)
        assert.isTrue(
          refused._tag === "Left" && refused.left.reason === "forbidden",
          `${host}: ${JSON.stringify(refused)}`
        )
      }
    }))

  it("classifies private addresses", () => {
    for (const ip of ["127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254"]) {
      assert.isTrue(isPrivateAddress(ip), ip)
    }
    for (const ip of ["::1", "fd00::1", "fe80::1", "::ffff:10.0.0.1", "0.0.0.0", "100.64.0.1"]) {
      assert.isTrue(isPrivateAddress(ip), ip)
    }
    for (const ip of ["::ffff:127.0.0.1", "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe", "2002:7f00:1::", "ff02::1"]) {
      assert.isTrue(isPrivateAddress(ip), ip)
    }
    for (const ip of ["8.8.8.8", "172.32.0.1", "193.168.1.1", "2001:4860:4860::8888", "::ffff:8.8.8.8"]) {
      assert.isFalse(isPrivateAddress(ip), ip)
    }
  })
})

describe("external calendar sync spans", () => {
  it.scoped("carry no part of a feed's URL but its host: not the token in its path, not its query", () =>
    Effect.gen(function*() {
      yield* startClock
      const server = yield* IcsServer
      const token = "s3cr3t-feed-token-4f1c9a"
      const path = `/private-${token}/basic.ics`
      server.set(path, ics(oneBusyHour))
      server.set(`${path}?key=${token}`, ics(oneBusyHour))
      server.set(`/moved/${token}`, { _tag: "Body", status: 302, body: "", headers: { location: path } })
      server.set(`/gone-${token}.ics`, ics("gone", 503))
      const sync = yield* ExternalCalendarSync
      const feeds = [
        server.url(`${path}?key=${token}`),
        server.url(`/moved/${token}`),
        server.url(`/gone-${token}.ics`),
        // Nothing listens on port 9 (discard): the request fails before any answer.
        `http://127.0.0.1:9/private-${token}/basic.ics`
      ]
      const outcomes: Array<string> = []
      for (const url of feeds) {
        const { feed } = yield* therapistWithFeed(url)
        const { exit, spans } = yield* recordSpans(sync.syncOne(feed))
        outcomes.push(Exit.match(exit, {
          onSuccess: () => "imported",
          onFailure: (cause) =>
            Option.match(Cause.failureOption(cause), { onNone: () => "died", onSome: (e) => e.reason })
        }))
        const requests = spans.filter((span) => span.name === "http.client GET")
        assert.isNotEmpty(requests, url)
        for (const request of requests) {
          assert.strictEqual(request.attributes.get("url.path"), REDACTED_FEED_PATH)
          assert.strictEqual(request.attributes.get("server.address"), "127.0.0.1")
        }
        for (const span of spans) {
          const text = spanText(span)
          assert.notInclude(text, token, text)
          assert.notInclude(text, "/private-", text)
          assert.notInclude(text, "basic.ics", text)
        }
      }
      // The spans were looked at on every path: imports (directly and through a redirect) and failures.
      assert.deepStrictEqual(outcomes, ["imported", "imported", "status", "unreachable"])
    }).pipe(Effect.provide(memory)))
})

suite("memory", memory)
suite("postgres", postgres)
