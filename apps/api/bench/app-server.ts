/**
 * The Effect app as `main.ts` composes it (session sign-in, error shape, request ids, access log),
 * on `DATABASE_URL`, without the recordings worker.
 */
import { Logging, Settings } from "@clinic/foundation"
import { RecordingsConfig } from "@clinic/recordings"
import { Database } from "@clinic/repository"
import { StorageConfig } from "@clinic/storage"
import { NodeRuntime } from "@effect/platform-node"
import { Layer } from "effect"
import { ApiConfig } from "../src/ApiConfig.js"
import { HttpLive } from "../src/Http.js"
import { Recordings } from "../src/Recordings.js"
import { StoresPg } from "../src/Stores.js"

HttpLive.pipe(
  Layer.provide(Recordings),
  Layer.provide(StoresPg),
  Layer.provide(Database.layer),
  Layer.provide(Settings.layer(
    ApiConfig,
    Database.DatabaseConfig,
    RecordingsConfig.RecordingsConfig,
    StorageConfig.StorageConfig
  )),
  Layer.launch,
  Logging.withProcessLogger,
  (program) => NodeRuntime.runMain(program, { disableErrorReporting: true, disablePrettyLogger: true })
)
