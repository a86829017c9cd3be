import { ExternalCalendarSync } from "@clinic/calendar"
import { OutboxStore } from "@clinic/events"
import { Mailer } from "@clinic/mail"
import { TaskStore } from "@clinic/queue"
import { Database } from "@clinic/repository"
import * as Repositories from "@clinic/repository/Repositories"
import { restartablePostgres } from "@clinic/repository/testing/DatabaseFaults"
import { RunStore } from "@clinic/scheduler-engine"
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import type { Redacted } from "effect"
import { Effect, Layer, Schedule } from "effect"
import { AdminServeLive } from "../src/AdminHttp.js"
import { CleanupPg } from "../src/App.js"
import { TaskRegistry } from "../src/Background.js"
import { EngineLive } from "../src/Jobs.js"
import { configLayer } from "./layers.js"

const TOKEN = "s3cret"
const ANSWER_BOUND_MS = 6_000

const noMail = Layer.succeed(Mailer, Mailer.of({ send: () => Effect.dieMessage("no mail in this test") }))

/** The admin API as served, over the app on `url` with small timeouts (the defaults are 5 s). */
const admin = (url: Redacted.Redacted) =>
  AdminServeLive.pipe(
    Layer.provideMerge(NodeHttpServer.layerTest),
    Layer.provideMerge(EngineLive),
    Layer.provideMerge(TaskRegistry.layer),
    Layer.provideMerge(noMail),
    Layer.provideMerge(
      Layer.mergeAll(CleanupPg, RunStore.layerPg, Repositories.layerPg, OutboxStore.layerPg, TaskStore.layerPg)
    ),
    Layer.provideMerge(ExternalCalendarSync.layer.pipe(Layer.provide(Repositories.layerPg))),
    Layer.provideMerge(configLayer({ SCHEDULER_REPLICA_ID: "outage-replica", SCHEDULER_ADMIN_TOKEN: TOKEN })),
    Layer.provideMerge(
      Database.clientLayer(url, { maxConnections: 4, statementTimeout: "1500 millis", connectTimeout: "1500 millis" })
    )
  )

const call = (path: string) =>
  Effect.gen(function*() {
    const started = Date.now()
    const response = yield* HttpClient.execute(HttpClientRequest.bearerToken(HttpClientRequest.get(path), TOKEN))
    const body = (yield* response.json) as { readonly _tag?: string }
    return {
      path,
      status: response.status,
      retryAfter: response.headers["retry-after"],
      tag: body._tag,
      ms: Date.now() - started
    }
  }).pipe(
    Effect.scoped,
    Effect.timeoutFail({ duration: ANSWER_BOUND_MS, onTimeout: () => new Error(`${path}: no answer in time`) }),
    Effect.orDie
  )

// One of each kind: the engine's run history (a typed StoreUnavailable) and a repository read (a defect).
const paths = [
  "/jobs",
  "/jobs/booking-hold-expiry",
  "/cleanup/preview/expired-bookings",
  "/cleanup/preview/inactive-sessions"
]

describe("scheduler admin API during a database outage (real Postgres stopped and restarted)", () => {
  it.live(
    "answers 503 with Retry-After while the database is down, never a 500, and recovers",
    () =>
      Effect.gen(function*() {
        const postgres = yield* restartablePostgres
        const context = yield* Layer.build(admin(postgres.url))
        yield* Effect.gen(function*() {
          for (const path of paths) assert.strictEqual((yield* call(path)).status, 200, path)

          yield* postgres.stop
          const down = yield* Effect.forEach([1, 2, 3], () => Effect.forEach(paths, call, { concurrency: "unbounded" }))
          for (const answer of down.flat()) {
            assert.deepStrictEqual(
              [answer.status, answer.retryAfter, answer.tag],
              [503, "5", "ServiceUnavailable"],
              answer.path
            )
            assert.isBelow(answer.ms, ANSWER_BOUND_MS)
          }

          yield* postgres.start
          for (const path of paths) {
            const answer = yield* call(path).pipe(
              Effect.filterOrFail((a) => a.status === 200, () => "not yet" as const),
              Effect.retry({ while: (e) => e === "not yet", schedule: Schedule.spaced("100 millis") }),
              Effect.timeout("20 seconds"),
              Effect.orDie
            )
            assert.strictEqual(answer.status, 200, path)
          }
        }).pipe(Effect.provide(context))
      }).pipe(Effect.scoped),
    { timeout: 120_000 }
  )
})
