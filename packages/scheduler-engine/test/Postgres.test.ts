import * as TestDatabase from "@clinic/repository/testing/TestDatabase"
import { eventually } from "@clinic/testing/TestTime"
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, DateTime, Effect, Layer, Ref, TestClock } from "effect"
import * as Job from "../src/Job.js"
import * as JobSchedule from "../src/JobSchedule.js"
import { RunStore } from "../src/RunStore.js"
import { make } from "../src/SchedulerEngine.js"
import { t0 } from "./helpers.js"
import * as RunStoreContract from "./RunStoreContract.js"

const pg = RunStore.layerPg.pipe(Layer.provideMerge(TestDatabase.layer))

RunStoreContract.suite("postgres", pg)

describe("two engines on one Postgres database (TestClock)", () => {
  it.scoped("each one-second tick runs exactly once across both replicas, and never again after its lease", () =>
    Effect.gen(function*() {
      // Half a second past T0: the reapers (every 5 s from here) never wake on a whole second, so
      // the sleeps counted below at a whole second are the two job loops'.
      yield* TestClock.setTime(t0 + 500)
      const executions = yield* Ref.make<ReadonlyArray<number>>([])
      const job = () =>
        Job.make({
          name: "tick",
          schedule: JobSchedule.unsafeCron("* * * * * *"),
          run: ({ scheduledAt }) => Ref.update(executions, (all) => [...all, DateTime.toEpochMillis(scheduledAt)])
        })
      const sql = yield* SqlClient.SqlClient
      const a = yield* make({ jobs: [job()], replica: "replica-a" })
      const b = yield* make({ jobs: [job()], replica: "replica-b" })
      const rows = sql<{ scheduledAt: Date; outcome: string; replica: string; attempt: number }>`
        SELECT scheduled_at, outcome, replica, attempt FROM scheduler_runs WHERE job = 'tick' ORDER BY scheduled_at`
      /** Both job loops asleep until `instant`: the queries of the tick before it are over. */
      const bothWaitFor = (instant: number) =>
        eventually(Effect.map(TestClock.sleeps(), (wakes) => Chunk.filter(wakes, (t) => t === instant).length >= 2))
      const finished = (tick: number) =>
        eventually(Effect.map(
          Effect.orDie(rows),
          (all) => all.some((r) => r.scheduledAt.getTime() === tick && r.outcome !== "running")
        ))

      yield* Effect.all([a.start, b.start], { concurrency: 2 })
      const ticks = Array.from({ length: 6 }, (_, i) => t0 + (i + 1) * 1000)
      for (const tick of ticks) {
        yield* bothWaitFor(tick)
        yield* TestClock.adjust("1 second")
        yield* finished(tick)
      }
      yield* bothWaitFor(t0 + 7000)
      yield* Effect.all([a.stop, b.stop], { concurrency: 2 })
      // Past every lease: nothing was left claimed, so nothing is taken over and run again.
      yield* TestClock.adjust("11 seconds")
      assert.strictEqual(yield* a.takeOverExpired, 0)
      assert.strictEqual(yield* b.takeOverExpired, 0)

      // One row per tick, each run once (attempt 1), every second from the first: none lost, none twice.
      const all = yield* rows
      assert.deepStrictEqual(all.map((r) => r.scheduledAt.getTime()), ticks)
      assert.deepStrictEqual(all.map((r) => [r.outcome, r.attempt]), ticks.map(() => ["succeeded", 1]))
      assert.deepStrictEqual(yield* Ref.get(executions), ticks)
    }).pipe(Effect.provide(pg)))
})
