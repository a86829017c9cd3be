import { ExternalCalendarSync, formatDateTime } from "@clinic/calendar"
import { calendar, event } from "@clinic/calendar/testing/IcsFixtures"
import { ics, IcsServer } from "@clinic/calendar/testing/IcsServer"
import { Email } from "@clinic/domain"
import { OutboxStore } from "@clinic/events"
import { Mailer } from "@clinic/mail"
import { TaskStore } from "@clinic/queue"
import { ExternalCalendarRepo, IdempotencyRepo, UserRepo } from "@clinic/repository"
import * as Repositories from "@clinic/repository/Repositories"
import { SchedulerEngine } from "@clinic/scheduler-engine"
import { advance, eventually } from "@clinic/testing/TestTime"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Layer, TestClock } from "effect"
import { TaskRegistry, WorkersLive } from "../src/Background.js"
import { CALENDAR_SYNC } from "../src/Jobs.js"
import { apiServer, signedInTherapist } from "./clinicApi.js"
import { configLayer, memoryApp } from "./layers.js"

const T0 = DateTime.unsafeMake("2026-03-02T09:00:00.000Z")

const feedSyncs = Effect.flatMap(TaskStore, (store) => store.list({ name: "calendar.sync-feed", limit: 20 }))

const therapistWithFeed = (url: string) =>
  Effect.gen(function*() {
    const therapist = yield* Effect.flatMap(UserRepo, (users) =>
      users.insert({
        email: Email.make(`t.${crypto.randomUUID().slice(0, 8)}@clinic.test`),
        name: "Dr Feed",
        role: "therapist",
        passwordHash: "x"
      })).pipe(Effect.orDie)
    return yield* Effect.flatMap(ExternalCalendarRepo, (repo) =>
      repo.add({ therapistId: therapist.id, url, label: null }, 10)).pipe(Effect.orDie)
  })

// The email tasks share the registry; these tests send no mail.
const noMail = Layer.succeed(Mailer, Mailer.of({ send: () => Effect.dieMessage("no mail in this test") }))

/**
 * The API and the scheduler's calendar workers over one set of in-memory stores, as the two apps
 * share one database. The engine is not running: no periodic sync happens here.
 */
const apiWithCalendarWorkers = Layer.mergeAll(apiServer, WorkersLive).pipe(
  Layer.provideMerge(TaskRegistry.layer),
  Layer.provideMerge(
    Layer.mergeAll(
      IdempotencyRepo.layerMemory,
      OutboxStore.layerMemory,
      TaskStore.layerMemory,
      ExternalCalendarSync.layer,
      noMail
    ).pipe(Layer.provideMerge(Repositories.layerMemory))
  ),
  // The test feed is on 127.0.0.1, which production settings refuse to fetch.
  Layer.provideMerge(configLayer({ SCHEDULER_QUEUES: "calendar", CALENDAR_SYNC_ALLOW_PRIVATE_NETWORKS: "true" }))
)

describe("external calendar sync", () => {
  it.scopedLive("a feed added through the API is synced by the calendar workers at once, not at the next calendar-sync", () =>
    Effect.gen(function*() {
      const server = yield* IcsServer
      // Two days ahead of the real clock: within the import horizon.
      const start = DateTime.add(DateTime.unsafeMake(Date.now()), { days: 2 })
      server.set(
        "/cal.ics",
        ics(calendar(event(
          "meeting",
          `DTSTART:${formatDateTime(start)}`,
          `DTEND:${formatDateTime(DateTime.add(start, { hours: 1 }))}`
        )))
      )
      const therapist = yield* signedInTherapist(Email.make("dr.feed@clinic.test"), "Dr Feed")
      const added = yield* therapist.calendar.addExternal({ payload: { url: server.url("/cal.ics") } })
      assert.isNull(added.lastSyncedAt)

      const repo = yield* ExternalCalendarRepo
      yield* eventually(Effect.map(repo.busy(added.id), (busy) => busy.length === 1))
      const [listed] = yield* therapist.calendar.listExternal()
      assert.isNotNull(listed.lastSyncedAt)
      assert.isNull(listed.lastError)
      assert.deepStrictEqual((yield* feedSyncs).map((task) => task.status), ["succeeded"])
    }).pipe(Effect.provide(apiWithCalendarWorkers)))

  it.scoped("calendar-sync queues one feed sync per feed on its tick, once per tick", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(T0.epochMillis)
      const first = yield* therapistWithFeed("https://example.com/a.ics")
      const second = yield* therapistWithFeed("https://example.com/b.ics")
      const engine = yield* SchedulerEngine
      yield* engine.start
      yield* advance("15 minutes")

      const [run] = (yield* engine.job(CALENDAR_SYNC)).recentRuns
      assert.strictEqual(run.outcome, "succeeded")
      assert.deepStrictEqual(run.result, { feeds: 2, enqueued: 2 })
      const keys = (yield* feedSyncs).map((task) => task.idempotencyKey).sort()
      assert.deepStrictEqual(
        keys,
        [first.id, second.id].map((id) => `calendar.sync-feed:${id}:2026-03-02T09:15:00.000Z`).sort()
      )

      // The tick run again (a claim taken over) queues nothing more; the next tick queues both again.
      const job = engine.jobs.find((j) => j.name === CALENDAR_SYNC)!
      assert.deepStrictEqual(
        yield* job.run({ scheduledAt: DateTime.unsafeMake("2026-03-02T09:15:00.000Z"), trigger: "schedule" }),
        { feeds: 2, enqueued: 0 }
      )
      yield* advance("15 minutes")
      assert.strictEqual((yield* feedSyncs).length, 4)
    }).pipe(Effect.provide(memoryApp())))
})
