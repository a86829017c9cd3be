import type { Recording } from "@clinic/domain"
import { RecordingId } from "@clinic/domain"
import type { OutboxStore } from "@clinic/events"
import { EventBus } from "@clinic/events"
import type { TaskStore } from "@clinic/queue"
import { Backoff, Registry, Task, TaskQueue, Worker } from "@clinic/queue"
import { DateTime, Effect, Layer, Option, Schema } from "effect"
import { RecordingRepo } from "./RecordingRepo.js"
import type { StepOutcome } from "./RecordingService.js"
import { RecordingService } from "./RecordingService.js"

/**
 * The recordings pipeline on the durable queue: `recording.transcribe` then
 * `recording.extract-notes`, both on the `recordings` queue.
 *
 * - Idempotency: the upload queues `transcribe` in the transaction of the row's insert under the key
 *   `recording.transcribe:<id>:<sha256>`, so a retried request or a replayed step never adds a
 *   second run; the steps themselves skip work already saved (see `RecordingService.transcribe`).
 * - Retries: a provider that is down or slow (`ProviderUnavailable`) fails the run and the queue
 *   retries it with backoff; on the last attempt the recording is marked `failed` instead
 *   (`recording.failed` event). A provider that refuses for good fails the recording at once.
 * - No provider (`Waiting`): the run ends without spending an attempt and the recording stays where
 *   it is, with `waitingReason` telling clients why. Providers are read from the configuration when
 *   the process starts, so a provider "becomes configured" only when the worker restarts: `resume`
 *   then queues the waiting recordings again.
 */

export const QUEUE = "recordings"

const RecordingPayload = Schema.Struct({ recordingId: RecordingId })

const backoff = Backoff.make({ base: "30 seconds", max: "30 minutes", jitter: 0.3 })

const publishOutcome = (outcome: StepOutcome) =>
  Effect.gen(function*() {
    if (outcome._tag === "Failed") {
      yield* EventBus.publish({
        _tag: "recording.failed",
        recordingId: outcome.recording.id,
        therapistId: outcome.recording.therapistId,
        reason: outcome.recording.error ?? "Processing failed"
      })
    } else if (outcome._tag === "Done" && outcome.recording.status === "completed") {
      yield* EventBus.publish({
        _tag: "recording.completed",
        recordingId: outcome.recording.id,
        therapistId: outcome.recording.therapistId
      })
    } else if (outcome._tag !== "Done") {
      yield* Effect.logInfo(`recording step ended: ${outcome._tag}`, outcome.reason)
    }
  })

/**
 * Runs a step; `ProviderUnavailable` is retried by the queue until the last attempt, which marks
 * the recording `failed` (with the error; its `attempts` counts the provider calls).
 */
const runStep = (
  id: RecordingId,
  step: (id: RecordingId) => Effect.Effect<StepOutcome, { readonly message: string }>,
  context: Task.TaskContext
) =>
  Effect.gen(function*() {
    const service = yield* RecordingService
    const outcome = yield* step(id).pipe(
      Effect.catchAll((error) =>
        context.attempt < context.maxAttempts
          ? Effect.fail(error)
          : service.markFailed(id, `${error.message} (gave up after ${context.attempt} attempts)`).pipe(
            Effect.map((recording): StepOutcome => ({ _tag: "Failed", recording })),
            Effect.orElseSucceed((): StepOutcome => ({ _tag: "Skipped", reason: "the recording moved on" }))
          )
      )
    )
    yield* publishOutcome(outcome)
    return outcome
  }).pipe(Effect.annotateLogs({ service: "recordings", task: context.name, recordingId: id }))

export const extractNotesTask = Task.make({
  name: "recording.extract-notes",
  queue: QUEUE,
  payload: RecordingPayload,
  maxAttempts: 5,
  backoff,
  timeout: "15 minutes",
  handler: ({ recordingId }, context) =>
    Effect.flatMap(RecordingService, (service) => runStep(recordingId, service.extract, context)).pipe(Effect.asVoid)
})

const extractKey = (recording: Recording) => `recording.extract-notes:${recording.id}:${recording.sha256}`

export const transcribeTask = Task.make({
  name: "recording.transcribe",
  queue: QUEUE,
  payload: RecordingPayload,
  maxAttempts: 5,
  backoff,
  // A long session's audio is uploaded to the provider and transcribed in one request.
  timeout: "15 minutes",
  handler: ({ recordingId }, context) =>
    Effect.gen(function*() {
      const service = yield* RecordingService
      const outcome = yield* runStep(recordingId, service.transcribe, context)
      if (outcome._tag === "Done") {
        yield* TaskQueue.enqueue(extractNotesTask, { recordingId }, { idempotencyKey: extractKey(outcome.recording) })
      }
    })
})

export const tasks = [transcribeTask, extractNotesTask] as const

/** The registry fragment a worker process hosts (merge into a wider registry, or use `registry`). */
export const queueConfig: Registry.QueueConfig = {
  name: QUEUE,
  // Provider calls are slow and billed: a few at a time per process.
  concurrency: 2,
  pollInterval: "2 seconds",
  lease: "1 minute"
}

export const registry = Registry.make({ tasks, queues: [queueConfig] })

const transcribeKey = (recording: Recording) => `recording.transcribe:${recording.id}:${recording.sha256}`

/** In the upload's transaction: the first step and the `recording.uploaded` event. */
export const onUploaded = (recording: Recording) =>
  Effect.gen(function*() {
    yield* TaskQueue.enqueue(transcribeTask, { recordingId: recording.id }, {
      idempotencyKey: transcribeKey(recording)
    })
    yield* EventBus.publish({
      _tag: "recording.uploaded",
      recordingId: recording.id,
      therapistId: recording.therapistId,
      sizeBytes: recording.sizeBytes
    })
  })

/**
 * `POST /sessions/:id/extract-notes`: each request is a new run (the rate limit bounds them); the
 * step itself refuses to run twice at once (`extracting` is claimed).
 */
export const onNotesRequested = (recording: Recording) =>
  Effect.flatMap(DateTime.now, (now) =>
    TaskQueue.enqueue(extractNotesTask, { recordingId: recording.id }, {
      idempotencyKey: `${extractKey(recording)}:requested:${DateTime.formatIso(now)}`
    }))

/**
 * Queues `task` for a recording again unless a run of it is pending or running: the keys chain
 * (`<key>:after:<previous task id>`), so two replicas resuming at once add one run, and a run never
 * overlaps the one it follows.
 */
const enqueueAgain = (
  task: typeof transcribeTask | typeof extractNotesTask,
  recording: Recording,
  key: string
): Effect.Effect<boolean, never, TaskStore> =>
  Effect.gen(function*() {
    let current = key
    for (let i = 0; i < 20; i++) {
      const enqueued = yield* TaskQueue.enqueue(task, { recordingId: recording.id }, { idempotencyKey: current })
      if (enqueued.inserted) return true
      const row = yield* TaskQueue.get(enqueued.id)
      if (Option.isNone(row) || row.value.status === "pending" || row.value.status === "running") return false
      current = `${key}:after:${enqueued.id}`
    }
    return false
  })

/**
 * Queues the recordings that waited for a provider, when one is configured now: `uploaded` ones for
 * transcription, `transcribed` ones for notes. Run when the worker starts.
 */
export const resume = Effect.gen(function*() {
  const repo = yield* RecordingRepo
  const service = yield* RecordingService
  let queued = 0
  for (const recording of yield* repo.listByStatus("uploaded", 1000)) {
    if (service.waitingReason(recording) !== undefined) break
    if (yield* enqueueAgain(transcribeTask, recording, transcribeKey(recording))) queued++
  }
  for (const recording of yield* repo.listByStatus("transcribed", 1000)) {
    if (service.waitingReason(recording) !== undefined) break
    if (yield* enqueueAgain(extractNotesTask, recording, extractKey(recording))) queued++
  }
  if (queued > 0) yield* Effect.logInfo(`resumed ${queued} waiting recordings`)
}).pipe(Effect.annotateLogs({ service: "recordings" }), Effect.withSpan("Pipeline.resume"))

/**
 * A worker for the `recordings` queue, for the life of the layer, after the resume sweep. Hosted by
 * the API process (see apps/api `RecordingsWorker.ts`); a scheduler can host `tasks` and
 * `queueConfig` in its own registry instead.
 */
export const workerLayer = (options: Worker.WorkerOptions = {}) =>
  Layer.unwrapEffect(
    Effect.gen(function*() {
      yield* resume
      return Worker.layer(yield* Effect.orDie(registry), { shutdownBudget: "30 seconds", ...options })
    })
  )

export type PipelineServices = RecordingService | RecordingRepo | TaskStore | OutboxStore
