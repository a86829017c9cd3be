import type { Registry } from "@clinic/queue"
import { TaskStore } from "@clinic/queue"
import { RunStore, SchedulerEngine } from "@clinic/scheduler-engine"
import { advance, settle } from "@clinic/testing/TestTime"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Layer, TestClock } from "effect"
import { memoryApp } from "./layers.js"

const T0 = DateTime.unsafeMake("2026-03-02T09:00:00.000Z")

/** The entries, with the app's own jobs made daily: these tests are about the entries' ticks. */
const periodic = (entries: ReadonlyArray<Record<string, unknown>>) => ({
  SCHEDULER_PERIODIC_TASKS: JSON.stringify(entries),
  SCHEDULER_AUTH_SESSION_CLEANUP: "every 1 day",
  SCHEDULER_BOOKING_HOLD_EXPIRY: "every 1 day",
  SCHEDULER_EVENTS_PRUNE: "every 1 day",
  SCHEDULER_CALENDAR_SYNC: "every 1 day"
})

// Minutes, not hours: the engine's lease reaper wakes every few seconds of TestClock time.
const minutelyPrune = periodic([{ name: "minutely-prune", task: "maintenance.prune", every: "1 minute" }])

const queued = Effect.flatMap(TaskStore, (store) => store.list({ name: "maintenance.prune", limit: 100 })).pipe(
  Effect.map((tasks) =>
    tasks
      .map((task) => ({ key: task.idempotencyKey, runAt: DateTime.formatIso(task.runAt) }))
      .sort((a, b) => a.runAt.localeCompare(b.runAt))
  )
)

const runsOf = (job: string) =>
  Effect.flatMap(RunStore, (store) => store.recent(job, 100)).pipe(
    Effect.orDie,
    Effect.map((runs) =>
      runs.map((run) => `${DateTime.formatIso(run.scheduledAt).slice(11, 19)} ${run.trigger} ${run.outcome}`).reverse()
    )
  )

/** The start-up failure of an app whose `SCHEDULER_PERIODIC_TASKS` is `entries`. */
const startupError = (env: Record<string, string>) => Effect.flip(Layer.build(memoryApp(env))).pipe(Effect.scoped)

describe("periodic tasks (SCHEDULER_PERIODIC_TASKS) as engine jobs", () => {
  it.scoped("each entry becomes a job of its name and schedule, with the app's own jobs", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(T0.epochMillis)
      const status = yield* (yield* SchedulerEngine).status
      const entries = status.jobs.slice(-2)
      assert.deepStrictEqual(entries.map((job) => [job.name, job.schedule]), [
        ["hourly-prune", "every 1h"],
        ["berlin-prune", "cron 0 3 * * * (Europe/Berlin)"]
      ])
      // 03:00 in Berlin is 02:00 UTC in March (CET).
      assert.strictEqual(DateTime.formatIso(entries[1].nextRuns[0]), "2026-03-03T02:00:00.000Z")
      assert.isFalse(status.jobs.some((job) => job.name === "nightly-maintenance"), "the default is replaced")
    }).pipe(Effect.provide(memoryApp(periodic([
      { name: "hourly-prune", task: "maintenance.prune", every: "1 hour" },
      { name: "berlin-prune", task: "maintenance.prune", cron: "0 3 * * *", timeZone: "Europe/Berlin", payload: {} }
    ])))))

  it.scoped("a tick enqueues the entry's task once, due at the tick, under the tick's key", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(T0.epochMillis)
      const engine = yield* SchedulerEngine
      yield* engine.start
      yield* advance("59 seconds")
      assert.deepStrictEqual(yield* queued, [])
      yield* advance("1 second")
      const tick = { key: "periodic:minutely-prune:2026-03-02T09:01:00.000Z", runAt: "2026-03-02T09:01:00.000Z" }
      assert.deepStrictEqual(yield* queued, [tick])
      const [run] = (yield* engine.job("minutely-prune")).recentRuns
      assert.strictEqual(run.outcome, "succeeded")
      assert.deepInclude(run.result, { task: "maintenance.prune", inserted: true })

      // The same tick run again (a replica taking over a claim whose holder died mid-run) adds nothing.
      const job = engine.jobs.find((j) => j.name === "minutely-prune")!
      const again = yield* job.run({ scheduledAt: DateTime.unsafeMake(tick.runAt), trigger: "schedule" })
      assert.deepInclude(again, { inserted: false })
      assert.deepStrictEqual(yield* queued, [tick])
    }).pipe(Effect.provide(memoryApp(minutelyPrune))))

  it.scoped("two replicas over one run history and task table enqueue each tick once", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(T0.epochMillis)
      const a = yield* SchedulerEngine
      // A second replica with the same jobs over the same stores, as two scheduler processes would be.
      const b = yield* SchedulerEngine.make({ jobs: a.jobs, replica: "replica-b" })
      yield* a.start
      yield* b.start
      yield* advance("1 minute")
      yield* advance("1 minute")
      yield* advance("1 minute")
      assert.deepStrictEqual((yield* queued).map((task) => task.key), [
        "periodic:minutely-prune:2026-03-02T09:01:00.000Z",
        "periodic:minutely-prune:2026-03-02T09:02:00.000Z",
        "periodic:minutely-prune:2026-03-02T09:03:00.000Z"
      ])
      assert.deepStrictEqual(yield* runsOf("minutely-prune"), [
        "09:01:00 schedule succeeded",
        "09:02:00 schedule succeeded",
        "09:03:00 schedule succeeded"
      ])
    }).pipe(Effect.provide(memoryApp(minutelyPrune))))

  it.scoped("after downtime the latest missed tick is enqueued once (runOnce); the others are recorded skipped", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(T0.epochMillis)
      const engine = yield* SchedulerEngine
      yield* engine.start
      yield* advance("1 minute")
      yield* engine.stop
      yield* advance("330 seconds")
      yield* engine.start
      yield* settle
      assert.deepStrictEqual((yield* queued).map((task) => task.runAt), [
        "2026-03-02T09:01:00.000Z",
        "2026-03-02T09:06:00.000Z"
      ])
      assert.deepStrictEqual(yield* runsOf("minutely-prune"), [
        "09:01:00 schedule succeeded",
        "09:02:00 schedule skipped",
        "09:03:00 schedule skipped",
        "09:04:00 schedule skipped",
        "09:05:00 schedule skipped",
        "09:06:00 catch-up succeeded"
      ])
    }).pipe(Effect.provide(memoryApp(minutelyPrune))))

  it.effect("bad entries fail start-up with every problem listed", () =>
    Effect.gen(function*() {
      const error = yield* startupError(periodic([
        { name: "typo", task: "maintenance.prnue", every: "1 hour" },
        { name: "bad-cron", task: "maintenance.prune", cron: "61 * * * *" },
        { name: "bad-zone", task: "maintenance.prune", cron: "0 3 * * *", timeZone: "Mars/Olympus" },
        { name: "bad-every", task: "maintenance.prune", every: "sometimes" },
        { name: "both", task: "maintenance.prune", cron: "0 * * * *", every: "1 hour" },
        { name: "bad-payload", task: "calendar.sync-feed", every: "1 hour", payload: { calendarId: 42 } },
        { name: "calendar-sync", task: "maintenance.prune", every: "1 hour" },
        { name: "typo", task: "maintenance.prune", every: "1 hour" }
      ]))
      assert.strictEqual(error._tag, "RegistryError")
      const problems = (error as Registry.RegistryError).problems
      assert.deepStrictEqual(problems.map((p) => p.replace(/:.*$/s, "")), [
        "periodic entry \"typo\" names task \"maintenance.prnue\", which is not defined",
        "periodic entry \"bad-cron\" has an invalid cron \"61 * * * *\"",
        "periodic entry \"bad-zone\" has an invalid cron \"0 3 * * *\"",
        "periodic entry \"bad-every\" has an invalid every \"sometimes\"",
        "periodic entry \"both\" needs exactly one of cron or every",
        "periodic entry \"bad-payload\" has a payload that task \"calendar.sync-feed\" rejects",
        "periodic entry \"calendar-sync\" has the name of a built-in job",
        "periodic entry \"typo\" is configured twice"
      ])
      assert.include(problems[2], "Mars/Olympus")
      assert.include((error as Registry.RegistryError).message, "Invalid task configuration:\n  - periodic entry")
    }))

  it.effect("unreadable periodic config is a ConfigError naming the variable", () =>
    Effect.gen(function*() {
      const notJson = yield* startupError({ SCHEDULER_PERIODIC_TASKS: "[{" })
      assert.strictEqual(notJson._tag, "ConfigError")
      assert.include(String(notJson), "SCHEDULER_PERIODIC_TASKS")
      const noTask = yield* startupError(periodic([{ name: "x", every: "1 hour" }]))
      assert.strictEqual(noTask._tag, "ConfigError")
      assert.include(String(noTask), "task")
    }))
})
