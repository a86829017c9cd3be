import { assert, describe, it } from "@effect/vitest"
import { Cron, Either } from "effect"
import { fireTimes } from "./helpers.js"

describe("cron across daylight saving time", () => {
  // Each row: a zone's clock change, a cron, where to start, and every fire time expected.
  const table: ReadonlyArray<{
    readonly name: string
    readonly cron: string
    readonly zone: string
    readonly from: string
    readonly expected: ReadonlyArray<string>
  }> = [
    {
      name: "New York falls back: a wildcard hour fires at both passes of 01:00 and 01:30",
      cron: "0 0,30 * * * *",
      zone: "America/New_York",
      from: "2026-11-01T04:45:00Z",
      expected: [
        "2026-11-01T05:00:00Z",
        "2026-11-01T05:30:00Z",
        "2026-11-01T06:00:00Z",
        "2026-11-01T06:30:00Z",
        "2026-11-01T07:00:00Z"
      ]
    },
    {
      name: "New York falls back: a fixed 01:30 fires once, on the first pass",
      cron: "0 30 1 * * *",
      zone: "America/New_York",
      from: "2026-10-31T12:00:00Z",
      expected: ["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"]
    },
    {
      name: "New York falls back: from inside the second pass, a fixed 01:30 waits for the next day",
      cron: "0 30 1 * * *",
      zone: "America/New_York",
      from: "2026-11-01T06:00:00Z",
      expected: ["2026-11-02T06:30:00Z"]
    },
    {
      name: "New York springs forward: 02:30 does not exist and fires once at 03:00 EDT",
      cron: "0 30 2 * * *",
      zone: "America/New_York",
      from: "2026-03-07T12:00:00Z",
      expected: ["2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z", "2026-03-10T06:30:00Z"]
    },
    {
      name: "New York springs forward: a wildcard hour skips the hour that does not exist",
      cron: "0 0 * * * *",
      zone: "America/New_York",
      from: "2026-03-08T05:30:00Z",
      expected: ["2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z"]
    },
    {
      // The gap (02:00-03:00) holds 02:30, but a wildcard hour has no real 02:30: 03:00 is no fire time.
      name: "New York springs forward: a wildcard hour at half past goes on at 03:30 EDT",
      cron: "0 30 * * * *",
      zone: "America/New_York",
      from: "2026-03-08T06:00:00Z",
      expected: ["2026-03-08T06:30:00Z", "2026-03-08T07:30:00Z", "2026-03-08T08:30:00Z"]
    },
    {
      name: "Berlin falls back: a wildcard hour fires at both passes of 02:30",
      cron: "0 30 * * * *",
      zone: "Europe/Berlin",
      from: "2026-10-25T00:00:00Z",
      expected: ["2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z", "2026-10-25T02:30:00Z"]
    },
    {
      name: "Berlin springs forward: a fixed 02:15 fires at 03:00 CEST",
      cron: "0 15 2 * * *",
      zone: "Europe/Berlin",
      from: "2026-03-28T12:00:00Z",
      expected: ["2026-03-29T01:00:00Z", "2026-03-30T00:15:00Z"]
    },
    {
      name: "Sydney falls back (April): a wildcard hour fires at both passes of 02:00",
      cron: "0 0 * * * *",
      zone: "Australia/Sydney",
      from: "2026-04-04T14:30:00Z",
      expected: ["2026-04-04T15:00:00Z", "2026-04-04T16:00:00Z", "2026-04-04T17:00:00Z"]
    },
    {
      name: "Sydney springs forward (October): a fixed 02:30 fires at 03:00 AEDT",
      cron: "0 30 2 * * *",
      zone: "Australia/Sydney",
      from: "2026-10-03T00:00:00Z",
      expected: ["2026-10-03T16:00:00Z", "2026-10-04T15:30:00Z"]
    },
    {
      // Clocks go back from 02:00 to 01:30: the repeated half hour holds no whole hour.
      name: "Lord Howe falls back half an hour: an hourly cron has no time in the repeated half hour",
      cron: "0 0 * * * *",
      zone: "Australia/Lord_Howe",
      from: "2026-04-04T14:00:00Z",
      expected: ["2026-04-04T15:30:00Z", "2026-04-04T16:30:00Z"]
    },
    {
      name: "Kolkata has no clock change: 09:00 IST every day",
      cron: "0 0 9 * * *",
      zone: "Asia/Kolkata",
      from: "2026-03-07T00:00:00Z",
      expected: ["2026-03-07T03:30:00Z", "2026-03-08T03:30:00Z", "2026-03-09T03:30:00Z"]
    }
  ]

  for (const row of table) {
    it(row.name, () => {
      assert.deepStrictEqual(fireTimes(row.cron, row.zone, row.from, row.expected.length), [...row.expected])
    })
  }

  it("upstream: Effect's Cron.next skips the second pass and moves a missing time to 03:30", () => {
    // Kept so that an Effect upgrade that fixes these shows here, and the patch can go.
    const wildcard = Either.getOrThrow(Cron.parse("0 0,30 * * * *", "America/New_York"))
    assert.strictEqual(Cron.next(wildcard, new Date("2026-11-01T05:30:00Z")).toISOString(), "2026-11-01T07:00:00.000Z")
    const missing = Either.getOrThrow(Cron.parse("0 30 2 * * *", "America/New_York"))
    assert.strictEqual(Cron.next(missing, new Date("2026-03-07T12:00:00Z")).toISOString(), "2026-03-08T07:30:00.000Z")
  })
})
