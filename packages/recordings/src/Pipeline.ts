import type { NotFound, RateLimited, Recording, UserId } from "@clinic/domain"
import { canTransition, InvalidTransition, RecordingId, TranscriptMissing } from "@clinic/domain"
import type { OutboxStore } from "@clinic/events"
import { EventBus } from "@clinic/events"
import { Backoff, Registry, Task, TaskQueue, TaskStore, Worker } from "@clinic/queue"
import { RecordingRepo } from "@clinic/repository/RecordingRepo"
import { SqlClient } from "@effect/sql"
import { DateTime, Effect, Layer, Metric, Option, Schema } from "effect"
import type { RateLimitStatus } from "./RateLimiter.js"
import { RateLimiter } from "./RateLimiter.js"
import { RecordingQueries } from "./RecordingQueries.js"
import type { StepOutcome } from "./RecordingSteps.js"
import { RecordingSteps } from "./RecordingSteps.js"
import { transactional } from "./Transaction.js"

/**
 * The recordings pipeline on the durable queue: `recording.transcribe` then
 * `recording.extract-notes`, both on the `recordings` queue.
 *
 * - Idempotency: the upload queues `transcribe` in the transaction of the row's insert under the key
 *   `recording.transcribe:<id>:<sha256>`, so a retried request or a replayed step never adds a
 *   second run; the steps themselves skip work already saved (see `RecordingSteps.transcribe`).
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

/**
 * Pipeline step runs by `step` (`transcribe`, `extract-notes`) and `outcome`: `done`, `skipped`
 * (already done or no longer wanted), `waiting` (no provider), `failed` (the recording failed for
 * good), `retried` (the provider was unavailable; the queue runs the step again later).
 */
export const stepRuns = Metric.counter("clinic_recording_steps_total", {
  description: "Recordings pipeline step runs by step (transcribe, extract-notes) and outcome",
  incremental: true
})

type Step = "transcribe" | "extract-notes"

const countStep = (step: Step, outcome: StepOutcome["_tag"] | "Retried") =>
  Metric.increment(Metric.tagged(Metric.tagged(stepRuns, "step", step), "outcome", outcome.toLowerCase()))

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
const runStep = <R>(
  id: RecordingId,
  name: Step,
  step: Effect.Effect<StepOutcome, { readonly message: string }, R>,
  context: Task.TaskContext
) =>
  Effect.gen(function*() {
    const steps = yield* RecordingSteps
    const outcome = yield* step.pipe(
      Effect.catchAll((error) =>
        context.attempt < context.maxAttempts
          ? Effect.zipRight(countStep(name, "Retried"), Effect.fail(error))
          : steps.markFailed(id, `${error.message} (gave up after ${context.attempt} attempts)`).pipe(
            Effect.map((recording): StepOutcome => ({ _tag: "Failed", recording })),
            Effect.orElseSucceed((): StepOutcome => ({ _tag: "Skipped", reason: "the recording moved on" }))
          )
      )
    )
    yield* countStep(name, outcome._tag)
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
    Effect.flatMap(
      RecordingSteps,
      (steps) => runStep(recordingId, "extract-notes", steps.extract(recordingId), context)
    ).pipe(
      Effect.asVoid
    )
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
    Effect.flatMap(RecordingSteps, (steps) =>
      runStep(
        recordingId,
        "transcribe",
        // Queued in the transaction that marks the recording transcribed: never one without the other.
        steps.transcribe(recordingId, (recording) =>
          Effect.asVoid(
            TaskQueue.enqueue(extractNotesTask, { recordingId }, { idempotencyKey: extractKey(recording) })
          )),
        context
      )).pipe(Effect.asVoid)
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
 * `POST /recordings/:id/extract-notes`: each request is a new run (the rate limit bounds them); the
 * step itself refuses to run twice at once (`extracting` is claimed).
 */
const onNotesRequested = (recording: Recording) =>
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
  const service = yield* RecordingQueries
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
}).pipe(Effect.annotateLogs({ service: "recordings" }), Effect.withSpan("RecordingPipeline.resume"))

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

export type PipelineServices = RecordingSteps | RecordingQueries | RecordingRepo | TaskStore | OutboxStore

/** What a therapist asks of the pipeline. */
export class RecordingPipeline extends Effect.Service<RecordingPipeline>()("@clinic/recordings/RecordingPipeline", {
  effect: Effect.gen(function*() {
    const transaction = transactional(yield* SqlClient.SqlClient)
    const repo = yield* RecordingRepo
    const limiter = yield* RateLimiter
    const tasks = yield* TaskStore
    return {
      /**
       * `POST /recordings/:id/extract-notes`: 404 for another therapist's recording, 409 without a
       * transcript (or while extraction runs), then the extract-notes rate limit and the
       * `recording.extract-notes` task in one transaction (a request that queues nothing is not
       * counted).
       */
      requestNotes: (
        therapistId: UserId,
        id: RecordingId
      ): Effect.Effect<
        { readonly recording: Recording; readonly rateLimit: RateLimitStatus },
        NotFound | TranscriptMissing | InvalidTransition | RateLimited
      > =>
        Effect.gen(function*() {
          const recording = yield* repo.findOwned(therapistId, id)
          if (Option.isNone(yield* repo.findTranscript(id))) {
            return yield* new TranscriptMissing({
              message: "The recording has no transcript yet: wait for transcription or supply one",
              recordingId: id
            })
          }
          if (recording.status === "extracting" || !canTransition(recording.status, "extracting")) {
            return yield* new InvalidTransition({
              message: recording.status === "extracting"
                ? "Notes are already being extracted"
                : `Notes cannot be extracted while the recording is ${recording.status}`,
              from: recording.status,
              to: "extracting"
            })
          }
          const rateLimit = yield* limiter.consume(therapistId, "extract-notes").pipe(
            Effect.tap(() => Effect.provideService(onNotesRequested(recording), TaskStore, tasks)),
            transaction
          )
          return { recording, rateLimit }
        }).pipe(Effect.withSpan("RecordingPipeline.requestNotes"))
    } as const
  }),
  dependencies: [RateLimiter.Default]
}) {}
