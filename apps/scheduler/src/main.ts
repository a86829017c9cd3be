import { Logging } from "@clinic/foundation"
import { Database } from "@clinic/repository"
import { NodeRuntime } from "@effect/platform-node"
import { Layer } from "effect"
import { AppLive, ConfigLive } from "./App.js"

// Config loads first (the database starts only once every setting is valid); SIGINT/SIGTERM:
// runMain interrupts, the layers' finalizers stop the engine gracefully.
AppLive.pipe(
  Layer.provide(Database.layer),
  Layer.provide(ConfigLive),
  Layer.provide(Logging.layer),
  Layer.launch,
  // The logger comes from Logging.layer; runMain's own pretty logger would print every line twice.
  (program) => NodeRuntime.runMain(program, { disablePrettyLogger: true })
)
