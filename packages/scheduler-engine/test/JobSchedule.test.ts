import { assert, describe, it } from "@effect/vitest"
import { DateTime, Either } from "effect"
import * as JobSchedule from "../src/JobSchedule.js"

const ms = (iso: string) => DateTime.toEpochMillis(DateTime.unsafeMake(iso))
const iso = (millis: number) => new Date(millis).toISOString()

describe("JobSchedule", () => {
  it("every N is aligned to the wall clock and strictly after the given instant", () => {
    const every15 = JobSchedule.every("15 minutes")
    assert.strictEqual(iso(JobSchedule.nextAfter(every15, ms("2026-03-02T09:07:12.345Z"))), "2026-03-02T09:15:00.000Z")
    assert.strictEqual(iso(JobSchedule.nextAfter(every15, ms("2026-03-02T09:15:00.000Z"))), "2026-03-02T09:30:00.000Z")
  })

  it("cron with seconds fires at the second, strictly after the given instant", () => {
    const everySecond = JobSchedule.unsafeCron("* * * * * *")
    assert.strictEqual(
      iso(JobSchedule.nextAfter(everySecond, ms("2026-03-02T09:00:00.000Z"))),
      "2026-03-02T09:00:01.000Z"
    )
    assert.strictEqual(
      iso(JobSchedule.nextAfter(everySecond, ms("2026-03-02T09:00:00.400Z"))),
      "2026-03-02T09:00:01.000Z"
    )
    const at30 = JobSchedule.unsafeCron("30 * * * * *")
    assert.strictEqual(iso(JobSchedule.nextAfter(at30, ms("2026-03-02T09:00:30.000Z"))), "2026-03-02T09:01:30.000Z")
  })

  it("a daily cron in New York keeps 09:00 local across the DST change (14:00Z, then 13:00Z)", () => {
    const daily = JobSchedule.unsafeCron("0 0 9 * * *", "America/New_York")
    const times = JobSchedule.nextN(daily, ms("2026-03-06T12:00:00.000Z"), 4).map(DateTime.formatIso)
    assert.deepStrictEqual(times, [
      "2026-03-06T14:00:00.000Z",
      "2026-03-07T14:00:00.000Z",
      "2026-03-08T13:00:00.000Z",
      "2026-03-09T13:00:00.000Z"
    ])
  })

  it("fire times between two instants, capped", () => {
    const every = JobSchedule.every("1 minute")
    const times = JobSchedule.fireTimesBetween(every, ms("2026-03-02T09:00:00Z"), ms("2026-03-02T09:05:00Z"), 10)
    assert.deepStrictEqual(times.map(iso).map((s) => s.slice(11, 16)), ["09:01", "09:02", "09:03", "09:04", "09:05"])
    assert.strictEqual(JobSchedule.fireTimesBetween(every, 0, ms("2026-03-02T09:05:00Z"), 3).length, 3)
  })

  it("parse reads every setting's text: `every <duration>` aligned to the epoch, or cron in a time zone", () => {
    const every = Either.getOrThrow(JobSchedule.parse(" every 15 minutes ", "Europe/Berlin"))
    assert.strictEqual(JobSchedule.describe(every), "every 15m")
    assert.strictEqual(iso(JobSchedule.nextAfter(every, ms("2026-03-02T09:07:00Z"))), "2026-03-02T09:15:00.000Z")
    const berlin = Either.getOrThrow(JobSchedule.parse("0 3 * * *", "Europe/Berlin"))
    assert.strictEqual(JobSchedule.describe(berlin), "cron 0 3 * * * (Europe/Berlin)")
    // 03:00 in Berlin is 02:00 UTC in March (CET).
    assert.strictEqual(iso(JobSchedule.nextAfter(berlin, ms("2026-03-02T09:00:00Z"))), "2026-03-03T02:00:00.000Z")
    const withSeconds = Either.getOrThrow(JobSchedule.parse("30 * * * * *"))
    assert.strictEqual(iso(JobSchedule.nextAfter(withSeconds, ms("2026-03-02T09:00:00Z"))), "2026-03-02T09:00:30.000Z")
    for (const bad of ["every banana", "every 500 millis", "every", "61 * * * *", "sometimes"]) {
      assert.isTrue(Either.isLeft(JobSchedule.parse(bad)), bad)
    }
    assert.isTrue(Either.isLeft(JobSchedule.parse("0 3 * * *", "Mars/Olympus")))
  })

  it("an invalid expression or time zone is a typed error", () => {
    assert.isTrue(Either.isLeft(JobSchedule.cron("61 * * * *")))
    assert.isTrue(Either.isLeft(JobSchedule.cron("* * * * *", "Mars/Olympus")))
    assert.strictEqual(JobSchedule.describe(JobSchedule.every("15 minutes")), "every 15m")
  })
})
