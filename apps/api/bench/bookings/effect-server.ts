import { OutboxStore } from "@clinic/events"
import { TaskStore } from "@clinic/queue"
/**
 * The Effect app as `main.ts` composes it, on `DATABASE_URL`, signed in through the test middleware
 * (bearer token = user id: one user lookup per request, as the baseline does).
 */
import { Logging, Settings } from "@clinic/foundation"
import { RecordingsConfig } from "@clinic/recordings"
import { Database, IdempotencyRepo, layerPg as RepositoriesPg } from "@clinic/repository"
import { FileStores, StorageConfig } from "@clinic/storage"
import { NodeRuntime } from "@effect/platform-node"
import { Layer } from "effect"
import { ApiConfig } from "../../src/ApiConfig.js"
import { HttpLive } from "../../src/Http.js"
import { Recordings } from "../../src/Recordings.js"
import { TestAuthentication } from "../../test/support/TestApi.js"

HttpLive.pipe(
  Layer.provide(TestAuthentication),
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
  Layer.provide(Logging.layer),
  Layer.launch,
  (program) => NodeRuntime.runMain(program, { disablePrettyLogger: true })
)
