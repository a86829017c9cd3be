import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Either } from "effect"
import * as Job from "../src/Job.js"
import * as JobSchedule from "../src/JobSchedule.js"

const messageOf = (result: Either.Either<JobSchedule.JobSchedule, JobSchedule.InvalidSchedule>) =>
  Either.match(result, { onLeft: (error) => error.message, onRight: () => "parsed" })

describe("schedule settings", () => {
  it("a cron expression without a time zone is read in UTC", () => {
    const schedule = Either.getOrThrow(JobSchedule.cron("0 3 * * *"))
    assert.strictEqual(JobSchedule.describe(schedule), "cron 0 3 * * * (UTC)")
    assert.strictEqual(
      JobSchedule.nextAfter(schedule, Date.parse("2026-03-02T09:00:00Z")),
      Date.parse("2026-03-03T03:00:00Z")
    )
  })

  it("an invalid cron expression names the expression and its time zone", () => {
    const message = messageOf(JobSchedule.cron("61 * * * *", "Europe/Berlin"))
    assert.isTrue(message.startsWith("61 * * * * (Europe/Berlin): "), message)
    assert.isAbove(message.length, "61 * * * * (Europe/Berlin): ".length)
  })

  it("an interval is at least 1 ms", () => {
    assert.throws(() => JobSchedule.every(0), "an interval must be at least 1 ms")
    assert.strictEqual(JobSchedule.describe(JobSchedule.every("1 millis")), "every 1ms")
  })

  it("`every <duration>` is at least a second, and is the whole setting", () => {
    assert.strictEqual(JobSchedule.describe(Either.getOrThrow(JobSchedule.parse("every 1 second"))), "every 1s")
    assert.strictEqual(
      messageOf(JobSchedule.parse("every 999 millis")),
      "\"every 999 millis\": expected \"every <duration>\" of at least 1 second"
    )
    // Text around it is no `every` setting (and no cron expression either).
    assert.isTrue(Either.isLeft(JobSchedule.parse("not every 1 minute")))
    assert.isTrue(Either.isLeft(JobSchedule.parse("every 1 minute\n0 3 * * *")))
  })
})

describe("Job.make", () => {
  it.effect("a job skips missed ticks and may run 5 minutes unless told otherwise", () =>
    Effect.sync(() => {
      const job = Job.make({ name: "job", schedule: JobSchedule.every("1 minute"), run: Effect.void })
      assert.strictEqual(job.missed, "skip")
      assert.strictEqual(Duration.toMillis(job.timeout), 300_000)
    }))
})
