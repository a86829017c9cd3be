import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Ref } from "effect"
import * as Job from "../src/Job.js"
import * as JobSchedule from "../src/JobSchedule.js"
import { RunStore } from "../src/RunStore.js"
import { advance, engine, settle, startClock } from "./helpers.js"

const seen = (ticks: ReadonlyArray<Job.Tick>) =>
  ticks.map((tick) => `${DateTime.formatIso(tick.scheduledAt).slice(11, 19)} ${tick.trigger}`)

describe("Job", () => {
  it.scoped("a run sees its tick: the scheduled time and the trigger (schedule, catch-up, manual)", () =>
    Effect.gen(function*() {
      yield* startClock
      const ticks = yield* Ref.make<ReadonlyArray<Job.Tick>>([])
      const job = Job.make({
        name: "tick-aware",
        schedule: JobSchedule.every("1 minute"),
        run: (tick) => Ref.update(ticks, (all) => [...all, tick]),
        missed: "runOnce"
      })
      const scheduler = yield* engine([job])
      yield* scheduler.start
      yield* advance("1 minute")
      yield* scheduler.stop
      // Down for five and a half minutes: the latest missed tick (09:06) runs once as a catch-up.
      yield* advance("330 seconds")
      yield* scheduler.start
      yield* settle
      yield* scheduler.runNow("tick-aware")
      assert.deepStrictEqual(seen(yield* Ref.get(ticks)), [
        "09:01:00 schedule",
        "09:06:00 catch-up",
        "09:06:30 manual"
      ])
    }).pipe(Effect.provide(RunStore.layerMemory)))

  it.effect("a job whose work does not depend on the tick is given as an Effect", () =>
    Effect.gen(function*() {
      const job = Job.make({ name: "plain", schedule: JobSchedule.every("1 minute"), run: Effect.succeed(42) })
      const result = yield* job.run({ scheduledAt: DateTime.unsafeMake(0), trigger: "manual" })
      assert.strictEqual(result, 42)
    }))
})
