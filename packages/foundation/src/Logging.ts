import type { ConfigError } from "effect"
import { Cause, Config, Effect, FiberId, Inspectable, Layer, Logger, LogLevel } from "effect"

/** `LOG_FORMAT` and `LOG_LEVEL`, read by every process (apps, the launcher, the CLIs). */
export const LoggingConfig = Config.all({
  format: Config.literal("json", "pretty")("LOG_FORMAT").pipe(Config.withDefault("json" as const)),
  level: Config.logLevel("LOG_LEVEL").pipe(Config.withDefault(LogLevel.Info))
})

const part = (value: unknown): string =>
  typeof value === "string"
    ? value
    : value instanceof Error
    ? value.message
    : Inspectable.stringifyCircular(Inspectable.toJSON(value))

const generalJsonLogger: Logger.Logger<unknown, string> = Logger.map(
  Logger.structuredLogger,
  (log) => Inspectable.stringifyCircular({ ...log, message: [log.message].flat().map(part).join(" ") })
)

/**
 * The line `generalJsonLogger` writes, made directly when it has only text to write: messages that
 * are strings, annotations that are strings, numbers or booleans, no cause (the access log line
 * and most others). It skips the structured logger's conversions and the circular-safe
 * stringify, which are most of a log line's cost on every request. Anything else: `undefined`.
 */
const plainLine = (options: Logger.Logger.Options<unknown>): string | undefined => {
  if (!Cause.isEmpty(options.cause)) return undefined
  const messages: ReadonlyArray<unknown> = Array.isArray(options.message) ? options.message : [options.message]
  for (const message of messages) if (typeof message !== "string") return undefined
  const annotations: Record<string, string | number | boolean> = {}
  for (const [key, value] of options.annotations) {
    if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") return undefined
    annotations[key] = value
  }
  const now = options.date.getTime()
  const spans: Record<string, number> = {}
  for (const span of options.spans) spans[span.label] = now - span.startTime
  // The structured logger's keys in its order (`cause` is left out when empty).
  return JSON.stringify({
    message: messages.join(" "),
    logLevel: options.logLevel.label,
    timestamp: options.date.toISOString(),
    annotations,
    spans,
    // `threadName` collects a set of ids even for the one id of a running fiber.
    fiberId: options.fiberId._tag === "Runtime" ? `#${options.fiberId.id}` : FiberId.threadName(options.fiberId)
  })
}

/**
 * One JSON object per line, with every annotation (`requestId`, `service`) and span. `message` is
 * always one string: `Effect.log("a", b)` logs several values, which Effect's own JSON logger
 * writes as an array, and a log pipeline that indexes `message` as text then drops the line.
 */
export const jsonLogger: Logger.Logger<unknown, string> = Logger.make((options) =>
  plainLine(options) ?? generalJsonLogger.log(options)
)

/**
 * Each line written to stdout as it is. `console.log` would format its one string argument again
 * and check the stream's colours on every call: with the access log on, `GET /auth/me` served about
 * 4% more requests a second without it (three A/B pairs, 1,720 against 1,800).
 */
const toStdout = (logger: Logger.Logger<unknown, string>): Logger.Logger<unknown, void> =>
  Logger.map(logger, (line) => {
    process.stdout.write(`${line}\n`)
  })

/**
 * The process's logger: JSON lines (`LOG_FORMAT=json`, the default) or a terminal's `pretty`
 * output, at `LOG_LEVEL` and above (`Info` by default).
 */
export const layer: Layer.Layer<never, ConfigError.ConfigError> = Layer.unwrapEffect(
  Effect.map(LoggingConfig, ({ format, level }) =>
    Layer.merge(
      Logger.replace(
        Logger.defaultLogger,
        format === "json" ? toStdout(jsonLogger) : Logger.prettyLogger()
      ),
      Logger.minimumLogLevel(level)
    ))
)

/**
 * Runs a process's main program under `layer`, logging a failure (a bad setting, a port in use)
 * through it rather than through `runMain`'s own report, which would come after the logger is
 * gone and so ignore `LOG_FORMAT`. An interruption (SIGINT, SIGTERM) is a normal stop. Pair it
 * with `NodeRuntime.runMain(program, { disableErrorReporting: true, disablePrettyLogger: true })`.
 */
export const withProcessLogger = <A, E, R>(program: Effect.Effect<A, E, R>) =>
  program.pipe(
    Effect.tapErrorCause((cause) =>
      Cause.isInterruptedOnly(cause) ? Effect.void : Effect.logError("the process failed", cause)
    ),
    Effect.provide(layer)
  )
