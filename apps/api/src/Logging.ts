import { Config, Effect, Layer, Logger } from "effect"

/** JSON lines (with every annotation, e.g. `requestId`) unless `LOG_FORMAT=pretty` for a terminal. */
export const LoggingLive = Layer.unwrapEffect(
  Effect.map(
    Config.literal("json", "pretty")("LOG_FORMAT").pipe(Config.withDefault("json")),
    (format) => format === "json" ? Logger.json : Logger.pretty
  )
)
