import { assert, describe, it } from "@effect/vitest"
import { fireTimes } from "./helpers.js"

// New York, 2026: clocks fall back at 02:00 EDT on 1 November (06:00Z: 01:00-02:00 happens twice)
// and spring forward at 02:00 EST on 8 March (07:00Z: 02:00-03:00 does not happen).
describe("cron starting near a clock change", () => {
  it("from inside the second pass of the repeated hour, a wildcard hour fires at the rest of it", () => {
    // 06:10Z is 01:10 EST, the second 01:10 of the night.
    assert.deepStrictEqual(fireTimes("0 0,30 * * * *", "America/New_York", "2026-11-01T06:10:00Z", 3), [
      "2026-11-01T06:30:00Z",
      "2026-11-01T07:00:00Z",
      "2026-11-01T07:30:00Z"
    ])
    assert.deepStrictEqual(fireTimes("0 0,30 * * * *", "America/New_York", "2026-11-01T06:30:00Z", 2), [
      "2026-11-01T07:00:00Z",
      "2026-11-01T07:30:00Z"
    ])
  })

  it("a second before clocks fall back, a wildcard hour fires next at the start of the second pass", () => {
    assert.deepStrictEqual(fireTimes("0 0,30 * * * *", "America/New_York", "2026-11-01T05:59:59Z", 3), [
      "2026-11-01T06:00:00Z",
      "2026-11-01T06:30:00Z",
      "2026-11-01T07:00:00Z"
    ])
  })

  it("a fixed time already past in the first pass does not fire again in the second", () => {
    assert.deepStrictEqual(fireTimes("0 30 1 * * *", "America/New_York", "2026-11-01T05:45:00Z", 2), [
      "2026-11-02T06:30:00Z",
      "2026-11-03T06:30:00Z"
    ])
    assert.deepStrictEqual(fireTimes("0 15 1 * * *", "America/New_York", "2026-11-01T05:20:00Z", 1), [
      "2026-11-02T06:15:00Z"
    ])
  })

  it("clocks springing forward: a wildcard hour goes on after the gap, a fixed time outside it is unmoved", () => {
    assert.deepStrictEqual(fireTimes("0 */20 * * * *", "America/New_York", "2026-03-08T06:30:00Z", 4), [
      "2026-03-08T06:40:00Z",
      "2026-03-08T07:00:00Z",
      "2026-03-08T07:20:00Z",
      "2026-03-08T07:40:00Z"
    ])
    assert.deepStrictEqual(fireTimes("0 0 12 * * *", "America/New_York", "2026-03-07T18:00:00Z", 2), [
      "2026-03-08T16:00:00Z",
      "2026-03-09T16:00:00Z"
    ])
  })
})
