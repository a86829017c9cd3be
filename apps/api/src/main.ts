import { OutboxStore } from "@clinic/events"
import { TaskStore } from "@clinic/queue"
import { Database, IdempotencyRepo, layerPg as RepositoriesPg } from "@clinic/repository"
import { NodeRuntime } from "@effect/platform-node"
import { Layer } from "effect"
import { HttpLive } from "./Http.js"
import { LoggingLive } from "./Logging.js"
import { RecordingsPg, RecordingsWorker } from "./Recordings.js"

Layer.merge(HttpLive, RecordingsWorker).pipe(
  Layer.provide(RecordingsPg),
  Layer.provide(Layer.mergeAll(RepositoriesPg, IdempotencyRepo.layerPg, OutboxStore.layerPg, TaskStore.layerPg)),
  Layer.provide(Database.layer),
  Layer.provide(LoggingLive),
  Layer.launch,
  // The logger comes from LoggingLive; runMain's own pretty logger would print every line twice.
  (program) => NodeRuntime.runMain(program, { disablePrettyLogger: true })
)
