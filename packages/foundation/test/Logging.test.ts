import { assert, describe, it } from "@effect/vitest"
import {
  Cause,
  ConfigProvider,
  Effect,
  FiberId,
  FiberRef,
  FiberRefs,
  HashMap,
  Inspectable,
  Layer,
  List,
  Logger,
  LogLevel,
  LogSpan,
  Redacted
} from "effect"
import { vi } from "vitest"
import * as Logging from "../src/Logging.js"

const capture = () => {
  const lines: Array<Record<string, unknown>> = []
  const logger = Logger.map(Logging.jsonLogger, (line) => {
    lines.push(JSON.parse(line))
  })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
}

const withEnv = (env: Record<string, string>) =>
  Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

describe("Logging", () => {
  it.effect("a JSON line's message is one string, whatever was logged", () => {
    const { layer, lines } = capture()
    return Effect.gen(function*() {
      yield* Effect.logInfo("recording step ended", "No provider is configured")
      yield* Effect.logWarning({ attempt: 2 }, new Error("refused"))
      yield* Effect.logInfo("plain").pipe(Effect.annotateLogs({ requestId: "r-1" }))
      assert.deepStrictEqual(lines.map((line) => line.message), [
        "recording step ended No provider is configured",
        "{\"attempt\":2} refused",
        "plain"
      ])
      assert.deepStrictEqual(lines[2].annotations, { requestId: "r-1" })
      assert.strictEqual(lines[1].logLevel, "WARN")
    }).pipe(Effect.provide(layer))
  })

  it("writes every line as the structured logger's fields would be stringified", () => {
    // What `jsonLogger` wrote before it made plain lines itself: its fast path must not differ.
    const reference = Logger.map(Logger.structuredLogger, (log) =>
      Inspectable.stringifyCircular({
        ...log,
        message: [log.message].flat().map((part) =>
          typeof part === "string"
            ? part
            : part instanceof Error
            ? part.message
            : Inspectable.stringifyCircular(Inspectable.toJSON(part))
        ).join(" ")
      }))
    const date = new Date("2026-03-02T10:00:00.123Z")
    const shared = { x: 1 }
    const line = (overrides: Partial<Logger.Logger.Options<unknown>>): Logger.Logger.Options<unknown> => ({
      fiberId: FiberId.make(12, 0),
      logLevel: LogLevel.Info,
      message: ["Sent HTTP response"],
      cause: Cause.empty,
      context: FiberRefs.unsafeMake(new Map()),
      spans: List.make(LogSpan.make("http.span.7", date.getTime() - 12), LogSpan.make("outer", date.getTime() - 40)),
      annotations: HashMap.make(["requestId", "r-1"], ["http.status", 200], ["http.url", "/auth/me?x=\"q\""]),
      date,
      ...overrides
    })
    const cases = [
      line({}),
      line({ message: "one string, not in an array" }),
      line({ message: ["two", "strings"] }),
      line({ annotations: HashMap.make(["ok", true], ["nan", Number.NaN], ["empty", ""]) }),
      line({ annotations: HashMap.empty(), spans: List.empty() }),
      line({ fiberId: FiberId.combine(FiberId.make(3, 0), FiberId.make(4, 0)) }),
      line({ fiberId: FiberId.none }),
      // Not plain: written by the structured logger as before.
      line({ message: ["failed", new Error("boom")] }),
      line({ message: [{ attempt: 2 }] }),
      line({ annotations: HashMap.make(["token", Redacted.make("secret")], ["n", 1]) }),
      line({ annotations: HashMap.make(["nested", { a: [1, 2] }]) }),
      // The circular-safe stringify writes a repeated object once.
      line({ annotations: HashMap.make(["pair", [shared, shared]]) }),
      line({ cause: Cause.fail("refused") })
    ]
    for (const options of cases) {
      assert.strictEqual(Logging.jsonLogger.log(options), reference.log(options))
    }
    assert.notInclude(Logging.jsonLogger.log(cases[9]), "secret")
  })

  it.effect("LOG_LEVEL sets the minimum level; LOG_FORMAT defaults to json", () =>
    Effect.gen(function*() {
      const level = yield* FiberRef.get(FiberRef.currentMinimumLogLevel).pipe(
        Effect.provide(Logging.layer.pipe(Layer.provide(withEnv({ LOG_LEVEL: "warn" }))))
      )
      assert.deepStrictEqual(level, LogLevel.Warning)
      const config = yield* Effect.withConfigProvider(Logging.LoggingConfig, ConfigProvider.fromMap(new Map()))
      assert.deepStrictEqual(config, { format: "json", level: LogLevel.Info })
    }))

  it.effect("with LOG_FORMAT=json each log call is one JSON line on stdout", () =>
    Effect.gen(function*() {
      const written: Array<string> = []
      const write = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
        written.push(String(chunk))
        return true
      })
      yield* Effect.logInfo("booking held").pipe(
        Effect.annotateLogs({ requestId: "r-1" }),
        Effect.provide(Logging.layer.pipe(Layer.provide(withEnv({ LOG_FORMAT: "json" })))),
        Effect.ensuring(Effect.sync(() => write.mockRestore()))
      )
      assert.strictEqual(written.length, 1)
      assert.isTrue(written[0].endsWith("}\n"), written[0])
      const line = JSON.parse(written[0])
      assert.strictEqual(line.message, "booking held")
      assert.strictEqual(line.logLevel, "INFO")
      assert.deepStrictEqual(line.annotations, { requestId: "r-1" })
    }))

  it.effect("a bad LOG_FORMAT and a bad LOG_LEVEL are both reported, each by name", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.withConfigProvider(
        Logging.LoggingConfig,
        ConfigProvider.fromMap(new Map([["LOG_FORMAT", "xml"], ["LOG_LEVEL", "loud"]]))
      ))
      const text = String(error)
      assert.include(text, "LOG_FORMAT")
      assert.include(text, "LOG_LEVEL")
    }))
})

describe("withProcessLogger", () => {
  const captured = () => {
    const messages: Array<string> = []
    const layer = Logger.add(Logger.make(({ logLevel, message }) => {
      messages.push(`${logLevel.label} ${[message].flat().join(" ")}`)
    }))
    return { layer, messages }
  }

  it.effect("a failed process is logged through the process logger; an interruption is a normal stop", () => {
    const { layer, messages } = captured()
    return Effect.gen(function*() {
      yield* Effect.exit(Logging.withProcessLogger(Effect.fail("port in use")))
      yield* Effect.exit(Logging.withProcessLogger(Effect.interrupt))
      assert.deepStrictEqual(messages, ["ERROR the process failed"])
    }).pipe(Effect.provide(layer), Effect.withConfigProvider(ConfigProvider.fromMap(new Map())))
  })
})
