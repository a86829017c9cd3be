import { assert, describe, it } from "@effect/vitest"
import { scheduleText } from "../src/dashboard/ScheduleWords.js"

describe("ScheduleWords", () => {
  it("says intervals in words with the equivalent cron where one exists", () => {
    assert.deepStrictEqual(scheduleText("every 1m"), { words: "every minute", cron: "0 * * * * *" })
    assert.deepStrictEqual(scheduleText("every 15m"), { words: "every 15 minutes", cron: "0 */15 * * * *" })
    assert.deepStrictEqual(scheduleText("every 1h"), { words: "every hour", cron: "0 0 * * * *" })
    assert.deepStrictEqual(scheduleText("every 7m"), { words: "every 7 minutes", cron: null })
  })

  it("reads common cron patterns in their time zone and keeps the expression", () => {
    assert.deepStrictEqual(scheduleText("cron 0 30 3 * * * (UTC)"), {
      words: "every day at 03:30 (UTC)",
      cron: "0 30 3 * * *"
    })
    assert.deepStrictEqual(scheduleText("cron 15 4 * * * (Europe/Paris)"), {
      words: "every day at 04:15 (Europe/Paris)",
      cron: "15 4 * * *"
    })
    assert.strictEqual(scheduleText("cron 0 0 9 * * 1 (UTC)").words, "every Monday at 09:00 (UTC)")
    assert.strictEqual(scheduleText("cron 0 */5 * * * * (UTC)").words, "every 5 minutes (UTC)")
    assert.strictEqual(scheduleText("cron 0 0 1 1 * * (UTC)").words, "custom schedule")
  })
})
