import { ExitWithParent, Logging } from "@clinic/foundation"
import { Database } from "@clinic/repository"
import { NodeRuntime } from "@effect/platform-node"
import { Layer } from "effect"
import { AppLive, ConfigLive } from "./App.js"

// Config loads first (the database starts only once every setting is valid); SIGINT/SIGTERM:
// runMain interrupts, the layers' finalizers stop the engine gracefully.
AppLive.pipe(
  Layer.provide(Database.layer),
  Layer.provide(ConfigLive),
  // First to start, so that a launcher that dies during the start is noticed too.
  Layer.provide(ExitWithParent.layer),
  Layer.launch,
  Logging.withProcessLogger,
  // The logger and the failure report come from Logging; runMain's own would ignore LOG_FORMAT.
  (program) => NodeRuntime.runMain(program, { disableErrorReporting: true, disablePrettyLogger: true })
)
