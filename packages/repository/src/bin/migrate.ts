import { Logging } from "@clinic/foundation"
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import * as Database from "../Database.js"

// Applies every migration to DATABASE_URL (or the embedded server, started and stopped) and exits.
Layer.build(Database.layer).pipe(
  Effect.scoped,
  Effect.provide(Database.DatabaseConfig.Default),
  Logging.withProcessLogger,
  (program) => NodeRuntime.runMain(program, { disableErrorReporting: true, disablePrettyLogger: true })
)
