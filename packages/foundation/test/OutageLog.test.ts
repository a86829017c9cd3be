import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, HashMap, Logger, LogLevel, TestClock } from "effect"
import { OutageLog } from "../src/index.js"

interface Entry {
  readonly level: string
  readonly message: string
  readonly cause: string
  readonly annotations: Readonly<Record<string, unknown>>
}

/** Runs `effect` with a logger that keeps every entry, at every level. */
const logged = <A, E, R>(effect: (entries: ReadonlyArray<Entry>) => Effect.Effect<A, E, R>) => {
  const entries: Array<Entry> = []
  const logger = Logger.make(({ annotations, cause, logLevel, message }) => {
    entries.push({
      level: logLevel.label,
      message: Array.isArray(message) ? message.join(" ") : String(message),
      cause: Cause.isEmpty(cause) ? "" : Cause.pretty(cause),
      annotations: Object.fromEntries(HashMap.toEntries(annotations))
    })
  })
  return effect(entries).pipe(
    Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
    Logger.withMinimumLogLevel(LogLevel.All)
  )
}

const options = { failing: "database unreachable", recovered: "database recovered" }

describe("OutageLog", () => {
  it.effect("many failures make one warning with the cause; a success after them one info", () =>
    logged((entries) =>
      Effect.gen(function*() {
        const outage = yield* OutageLog.make(options)
        yield* Effect.forEach(
          Array.from({ length: 200 }, (_, i) => i),
          (i) => outage.failed(new Error(`connect ECONNREFUSED #${i}`)),
          { concurrency: "unbounded" }
        )
        yield* TestClock.adjust("5 seconds")
        for (let i = 0; i < 50; i++) yield* outage.failed(Cause.fail(new Error("connect ECONNREFUSED")))
        assert.isTrue(yield* outage.failing)
        assert.deepStrictEqual(entries.map((e) => `${e.level} ${e.message}`), ["WARN database unreachable"])
        assert.strictEqual(entries[0].annotations.cause, "Error: connect ECONNREFUSED #0")

        yield* outage.succeeded()
        yield* outage.succeeded()
        assert.isFalse(yield* outage.failing)
        assert.deepStrictEqual(entries.map((e) => `${e.level} ${e.message}`), [
          "WARN database unreachable",
          "INFO database recovered"
        ])
        assert.deepStrictEqual(entries[1].annotations, { failingForSeconds: 5, failures: 250 })

        // A new outage is a new warning, its cause a `Cause` this time.
        yield* outage.failed(Cause.fail(new Error("Connection terminated unexpectedly")))
        assert.strictEqual(entries.length, 3)
        assert.include(entries[2].cause, "Connection terminated unexpectedly")
      })
    ))

  it.effect("a long outage repeats its warning with backoff: 30 s, then doubling up to the cap", () =>
    logged((entries) =>
      Effect.gen(function*() {
        const outage = yield* OutageLog.make({ ...options, repeat: { initial: "30 seconds", max: "2 minutes" } })
        // A failure every 5 seconds for 10 minutes.
        for (let second = 0; second < 600; second += 5) {
          yield* outage.failed("ECONNREFUSED")
          yield* TestClock.adjust("5 seconds")
        }
        const warnings = entries.filter((e) => e.level === "WARN")
        // 0, 30, 90 (+60), 210 (+120), then every 120 s: 330, 450, 570.
        assert.deepStrictEqual(warnings.map((e) => e.annotations.failingForSeconds ?? 0), [
          0,
          30,
          90,
          210,
          330,
          450,
          570
        ])
        assert.strictEqual(entries.length, warnings.length)
      })
    ))

  it.effect("a success of an attempt that began before the outage was noticed does not end it", () =>
    logged((entries) =>
      Effect.gen(function*() {
        const outage = yield* OutageLog.make(options)
        yield* TestClock.adjust("10 seconds")
        const before = 5_000
        yield* outage.failed("ECONNREFUSED")
        yield* outage.succeeded(before)
        assert.isTrue(yield* outage.failing)
        yield* TestClock.adjust("1 second")
        yield* outage.succeeded(11_000)
        assert.isFalse(yield* outage.failing)
        assert.deepStrictEqual(entries.map((e) => e.message), ["database unreachable", "database recovered"])
      })
    ))

  it.effect("successes while nothing fails log nothing", () =>
    logged((entries) =>
      Effect.gen(function*() {
        const outage = yield* OutageLog.make(options)
        for (let i = 0; i < 10; i++) yield* outage.succeeded()
        assert.deepStrictEqual(entries, [])
      })
    ))
})
