import { type JobRun } from "@clinic/domain"
import { DateTime, Effect, Logger, Ref, TestClock } from "effect"
import type { Job } from "../src/Job.js"
import * as JobSchedule from "../src/JobSchedule.js"
import { RunStore } from "../src/RunStore.js"
import { type EngineOptions, make } from "../src/SchedulerEngine.js"

/** 09:00:00 UTC on a Monday, aligned to every interval the tests use. */
export const T0 = DateTime.unsafeMake("2026-03-02T09:00:00.000Z")
export const t0 = DateTime.toEpochMillis(T0)
export const startClock = TestClock.setTime(t0)

export { advance, settle } from "@clinic/testing/TestTime"

export const engine = (jobs: ReadonlyArray<Job>, options: Partial<EngineOptions> = {}) =>
  make({ jobs, replica: "replica-a", lease: "10 seconds", stopBudget: "30 seconds", ...options })

export const history = (job: string) =>
  Effect.flatMap(RunStore, (store) => store.recent(job, 1000)).pipe(
    Effect.orDie,
    Effect.map((runs) => [...runs].reverse())
  )

export const summary = (runs: ReadonlyArray<JobRun>) =>
  runs.map((r) => `${DateTime.formatIso(r.scheduledAt).slice(11, 19)} ${r.trigger} ${r.outcome}`)

/** Collects log messages at warning level and above. */
export const captureWarnings = Effect.gen(function*() {
  const lines = yield* Ref.make<ReadonlyArray<string>>([])
  const logger = Logger.make(({ logLevel, message }) => {
    if (logLevel._tag === "Warning" || logLevel._tag === "Error") {
      const text = Array.isArray(message) ? message.map(String).join(" ") : String(message)
      Effect.runSync(Ref.update(lines, (all) => [...all, text]))
    }
  })
  return { lines, layer: Logger.add(logger) }
})

/** The first `count` fire times after `from`, as ISO instants. */
export const fireTimes = (expression: string, timeZone: string, from: string, count: number) => {
  const schedule = JobSchedule.unsafeCron(expression, timeZone)
  const times: Array<string> = []
  let cursor = Date.parse(from)
  for (let i = 0; i < count; i++) {
    cursor = JobSchedule.nextAfter(schedule, cursor)
    times.push(new Date(cursor).toISOString().replace(".000Z", "Z"))
  }
  return times
}
