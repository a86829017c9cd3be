import { OutboxStore } from "@clinic/events"
import { TaskStore } from "@clinic/queue"
/**
 * The Effect app as `main.ts` composes it, on `DATABASE_URL`, signed in through the test middleware
 * (bearer token = user id: one user lookup per request, as the baseline does) because the
 * session-backed middleware lives on another branch.
 */
import { Database, IdempotencyRepo, layerPg as RepositoriesPg } from "@clinic/repository"
import { NodeRuntime } from "@effect/platform-node"
import { Layer } from "effect"
import { HttpLive } from "../../src/Http.js"
import { LoggingLive } from "../../src/Logging.js"
import { RecordingsPg } from "../../src/Recordings.js"
import { TestAuthentication } from "../../test/support/TestAuthentication.js"

HttpLive.pipe(
  Layer.provide(TestAuthentication),
  Layer.provide(RecordingsPg),
  Layer.provide(Layer.mergeAll(RepositoriesPg, IdempotencyRepo.layerPg, OutboxStore.layerPg, TaskStore.layerPg)),
  Layer.provide(Database.layer),
  Layer.provide(LoggingLive),
  Layer.launch,
  (program) => NodeRuntime.runMain(program, { disablePrettyLogger: true })
)
