import { ExitWithParent, Logging } from "@clinic/foundation"
import { Database } from "@clinic/repository"
import { Telemetry } from "@clinic/telemetry"
import { NodeRuntime } from "@effect/platform-node"
import { Layer } from "effect"
import packageJson from "../package.json" with { type: "json" }
import { AppLive, ConfigLive } from "./App.js"

// Config loads first (the database starts only once every setting is valid); SIGINT/SIGTERM:
// runMain interrupts, the layers' finalizers stop the engine gracefully.
AppLive.pipe(
  Layer.provide(Database.layer),
  // Below everything but the settings: every span of the process goes through its tracer.
  Layer.provide(Telemetry.layer({ name: "clinic-scheduler", version: packageJson.version })),
  Layer.provide(ConfigLive),
  // First to start, so that a launcher that dies during the start is noticed too.
  Layer.provide(ExitWithParent.layer),
  Layer.launch,
  Logging.withProcessLogger,
  // The logger and the failure report come from Logging; runMain's own would ignore LOG_FORMAT.
  (program) => NodeRuntime.runMain(program, { disableErrorReporting: true, disablePrettyLogger: true })
)
