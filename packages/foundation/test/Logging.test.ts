import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, FiberRef, Layer, Logger, LogLevel } from "effect"
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

  it.effect("LOG_LEVEL sets the minimum level; LOG_FORMAT defaults to json", () =>
    Effect.gen(function*() {
      const level = yield* FiberRef.get(FiberRef.currentMinimumLogLevel).pipe(
        Effect.provide(Logging.layer.pipe(Layer.provide(withEnv({ LOG_LEVEL: "warn" }))))
      )
      assert.deepStrictEqual(level, LogLevel.Warning)
      const config = yield* Effect.withConfigProvider(Logging.LoggingConfig, ConfigProvider.fromMap(new Map()))
      assert.deepStrictEqual(config, { format: "json", level: LogLevel.Info })
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
