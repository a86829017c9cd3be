import { ExternalCalendarSync } from "@clinic/calendar"
import { Email } from "@clinic/domain"
import { OutboxStore } from "@clinic/events"
import { TaskStore } from "@clinic/queue"
import { AuthSessionRepo, UserRepo } from "@clinic/repository"
import * as Repositories from "@clinic/repository/Repositories"
import * as TestDatabase from "@clinic/repository/testing/TestDatabase"
import { RunStore, SchedulerEngine } from "@clinic/scheduler-engine"
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Duration, Effect, Layer } from "effect"
import { CleanupPg } from "../src/App.js"
import { TaskRegistry } from "../src/Background.js"
import { AUTH_SESSION_CLEANUP, EngineLive } from "../src/Jobs.js"
import { configLayer } from "./layers.js"

const app = EngineLive.pipe(
  Layer.provideMerge(TaskRegistry.layer),
  Layer.provideMerge(
    Layer.mergeAll(CleanupPg, RunStore.layerPg, Repositories.layerPg, OutboxStore.layerPg, TaskStore.layerPg)
  ),
  Layer.provideMerge(ExternalCalendarSync.layer.pipe(Layer.provide(Repositories.layerPg))),
  Layer.provideMerge(configLayer({ SCHEDULER_REPLICA_ID: "pg-replica" })),
  Layer.provideMerge(TestDatabase.layer)
)

describe("scheduler app on Postgres", () => {
  it.live("a manual auth session cleanup deletes expired sessions and its run is in the history table", () =>
    Effect.gen(function*() {
      const user = yield* (yield* UserRepo).insert({
        email: Email.make("pg@clinic.test"),
        name: "Dr Pg",
        role: "therapist",
        passwordHash: "x"
      }).pipe(Effect.orDie)
      const sessions = yield* AuthSessionRepo
      const past = DateTime.subtractDuration(yield* DateTime.now, Duration.hours(1))
      const expired = yield* sessions.insert({
        userId: user.id,
        tokenHash: "a",
        expiresAt: past,
        userAgent: null,
        ip: null
      })
      const run = yield* (yield* SchedulerEngine).runNow(AUTH_SESSION_CLEANUP)
      assert.strictEqual(run.outcome, "succeeded")
      assert.strictEqual((run.result as { expired: { deletedSessions: number } }).expired.deletedSessions, 1)
      assert.isTrue(yield* Effect.isFailure(sessions.findById(expired.id)))
      const sql = yield* SqlClient.SqlClient
      const rows = yield* sql<{ outcome: string; replica: string }>`SELECT outcome, replica FROM scheduler_runs`
      assert.deepStrictEqual(rows.map((r) => [r.outcome, r.replica]), [["succeeded", "pg-replica"]])
    }).pipe(Effect.provide(app)))
})
