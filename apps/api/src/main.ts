import { ExitWithParent, Logging, Settings } from "@clinic/foundation"
import { RecordingsConfig } from "@clinic/recordings"
import { Database } from "@clinic/repository"
import { StorageConfig } from "@clinic/storage"
import { Telemetry } from "@clinic/telemetry"
import { NodeRuntime } from "@effect/platform-node"
import { Layer } from "effect"
import packageJson from "../package.json" with { type: "json" }
import { ApiConfig } from "./ApiConfig.js"
import { HttpLive } from "./Http.js"
import { Recordings, RecordingsWorker } from "./Recordings.js"
import { StoresPg } from "./Stores.js"

// Every setting loads first, in one pass: the database, the server and the worker start only once
// all of them are valid, and a bad start lists every problem.
const ConfigLive = Settings.layer(
  ApiConfig,
  Database.DatabaseConfig,
  RecordingsConfig.RecordingsConfig,
  StorageConfig.StorageConfig,
  Telemetry.TelemetryConfig
)

Layer.merge(HttpLive, RecordingsWorker).pipe(
  Layer.provide(Recordings),
  Layer.provide(StoresPg),
  Layer.provide(Database.layer),
  // Below everything but the settings: every span of the process goes through its tracer.
  Layer.provide(Telemetry.layer({ name: "clinic-api", version: packageJson.version })),
  Layer.provide(ConfigLive),
  // First to start, so that a launcher that dies during the start is noticed too.
  Layer.provide(ExitWithParent.layer),
  Layer.launch,
  Logging.withProcessLogger,
  // The logger and the failure report come from Logging; runMain's own would ignore LOG_FORMAT.
  (program) => NodeRuntime.runMain(program, { disableErrorReporting: true, disablePrettyLogger: true })
)
