import {
  NoteExtractor,
  Pipeline,
  RateLimiter,
  RecordingRepo,
  RecordingsConfig,
  RecordingService,
  RecordingStore,
  Transcriber,
  UnitOfWork
} from "@clinic/recordings"
import { NodeFileSystem, NodeHttpClient } from "@effect/platform-node"
import { Effect, Layer } from "effect"

/**
 * The recordings feature's services (configuration from the environment): the service over its
 * repository, rate limiter, audio folder and providers. The task and outbox stores its pipeline
 * writes to are the app's own, provided once at the root, so that every feature shares them. The
 * `*Pg` and `*Memory` variants differ only in where state lives.
 */
const service = RecordingService.layer.pipe(
  Layer.provideMerge(Layer.mergeAll(RecordingStore.RecordingStore.layer, Transcriber.layer, NoteExtractor.layer)),
  Layer.provide(Layer.merge(NodeFileSystem.layer, NodeHttpClient.layerUndici))
)

export const RecordingsPg = service.pipe(
  Layer.provideMerge(
    Layer.mergeAll(
      RecordingRepo.layerPg,
      RateLimiter.layerPg,
      UnitOfWork.layerPg
    )
  ),
  Layer.provideMerge(RecordingsConfig.RecordingsConfig.layer)
)

export const RecordingsMemory = service.pipe(
  Layer.provideMerge(
    Layer.mergeAll(
      RecordingRepo.layerMemory,
      RateLimiter.layerMemory,
      UnitOfWork.layerMemory
    )
  ),
  Layer.provideMerge(RecordingsConfig.RecordingsConfig.layer)
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
