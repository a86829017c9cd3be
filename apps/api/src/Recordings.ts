import { Pipeline, RecordingQueries, RecordingsConfig, RecordingSteps, RecordingUploads } from "@clinic/recordings"
import { NodeFileSystem, NodeHttpClient } from "@effect/platform-node"
import { Effect, Layer } from "effect"

/**
 * The recordings feature's services, configured from the environment. Where their state lives is
 * the repositories' business (`Repositories.layerPg` or `layerMemory`, with the matching
 * `SqlClient`); the task and outbox stores are the app's own, provided once at the root.
 */
export const Recordings = Layer.mergeAll(
  RecordingUploads.RecordingUploads.Default,
  RecordingSteps.RecordingSteps.Default,
  RecordingQueries.RecordingQueries.Default,
  Pipeline.RecordingPipeline.Default
).pipe(
  Layer.provideMerge(RecordingsConfig.RecordingsConfig.layer),
  Layer.provide(Layer.merge(NodeFileSystem.layer, NodeHttpClient.layerUndici))
)

/**
 * The `recordings` queue's worker in the API process, unless `CLINIC_RECORDINGS_WORKER=false`
 * (another process hosts `Pipeline.tasks`). Merged here rather than into the scheduler so that
 * uploads are processed by whatever runs the API alone.
 */
export const RecordingsWorker = Layer.unwrapEffect(
  Effect.map(
    RecordingsConfig.RecordingsConfig,
    ({ runWorker }) => runWorker ? Layer.discard(Pipeline.workerLayer()) : Layer.empty
  )
)
