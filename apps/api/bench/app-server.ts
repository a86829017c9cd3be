import { OutboxStore } from "@clinic/events"
import { TaskStore } from "@clinic/queue"
/**
 * The Effect app as `main.ts` composes it (session sign-in, error shape, request ids, access log),
 * on `DATABASE_URL`, without the recordings worker.
 */
import { Logging, Settings } from "@clinic/foundation"
import { RecordingsConfig } from "@clinic/recordings"
import { Database, IdempotencyRepo, layerPg as RepositoriesPg } from "@clinic/repository"
import { FileStores, StorageConfig } from "@clinic/storage"
import { NodeRuntime } from "@effect/platform-node"
import { Layer } from "effect"
import { ApiConfig } from "../src/ApiConfig.js"
import { HttpLive } from "../src/Http.js"
import { Recordings } from "../src/Recordings.js"

HttpLive.pipe(
  Layer.provide(Recordings),
  Layer.provide(
    Layer.mergeAll(
      RepositoriesPg,
      IdempotencyRepo.layerPg,
      OutboxStore.layerPg,
      TaskStore.layerPg,
      FileStores.FileStores.layer
    )
  ),
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
