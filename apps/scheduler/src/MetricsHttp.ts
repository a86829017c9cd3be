import { QueueDepthView, QueueMetrics, SchedulerAdminApi, TaskDurationView, TaskRunCount } from "@clinic/domain"
import { EventBus } from "@clinic/events"
import { Metrics } from "@clinic/http"
import { TaskStore, Worker } from "@clinic/queue"
import { HttpApiBuilder } from "@effect/platform"
import { DateTime, Effect, Metric, MetricState, Option } from "effect"

// The names `Metrics.runs` and `Metrics.duration` are registered under.
const RUNS = "clinic_task_runs_total"
const DURATION = "clinic_task_duration_seconds"

const tag = (tags: ReadonlyArray<{ readonly key: string; readonly value: string }>, key: string) =>
  tags.find((t) => t.key === key)?.value ?? ""

/**
 * The queue's numbers as JSON: depth from the task table (all replicas), run counts and
 * durations from this process's Effect metrics, worker and bus status when they run here.
 */
export const queueMetrics = Effect.gen(function*() {
  const store = yield* TaskStore
  const depth = yield* store.depth(yield* DateTime.now)
  const snapshot = yield* Metric.snapshot
  const runs: Array<TaskRunCount> = []
  const durations: Array<TaskDurationView> = []
  for (const pair of snapshot) {
    const tags = pair.metricKey.tags
    const state = pair.metricState
    if (pair.metricKey.name === RUNS && MetricState.isCounterState(state)) {
      runs.push(
        new TaskRunCount({
          task: tag(tags, "task"),
          queue: tag(tags, "queue"),
          outcome: tag(tags, "outcome"),
          count: Number(state.count)
        })
      )
    } else if (pair.metricKey.name === DURATION && MetricState.isHistogramState(state)) {
      if (state.count === 0) continue
      durations.push(
        new TaskDurationView({
          task: tag(tags, "task"),
          queue: tag(tags, "queue"),
          count: state.count,
          sumSeconds: state.sum,
          minSeconds: state.min,
          maxSeconds: state.max
        })
      )
    }
  }
  const worker = yield* Effect.serviceOption(Worker.TaskWorker)
  const workerStatus = Option.isSome(worker) ? Option.some(yield* worker.value.status) : Option.none()
  const bus = yield* Effect.serviceOption(EventBus.EventBus)
  const busStatus = Option.isSome(bus) ? Option.some(yield* bus.value.status) : Option.none()
  const order = (a: { task: string; queue: string }, b: { task: string; queue: string }) =>
    a.queue.localeCompare(b.queue) || a.task.localeCompare(b.task)
  return new QueueMetrics({
    depth: depth.map((d) => new QueueDepthView(d)),
    runs: runs.sort((a, b) => order(a, b) || a.outcome.localeCompare(b.outcome)),
    durations: durations.sort(order),
    workers: Option.match(workerStatus, {
      onNone: () => ({ state: "absent", listening: false, inFlight: {} }),
      onSome: (s) => ({
        state: s.state,
        listening: s.listening,
        inFlight: Object.fromEntries(s.queues.map((q) => [q.name, q.inFlight]))
      })
    }),
    events: Option.match(busStatus, {
      onNone: () => ({ state: "absent", listening: false, dispatched: 0 }),
      onSome: (s) => ({ state: s.state, listening: s.listening, dispatched: s.dispatched })
    })
  })
}).pipe(Effect.withSpan("Admin.queueMetrics"))

/** `GET /queues/metrics` (JSON) and `GET /metrics` (Prometheus text), both behind the admin token. */
export const MetricsLive = HttpApiBuilder.group(SchedulerAdminApi, "metrics", (handlers) =>
  Effect.gen(function*() {
    const store = yield* TaskStore
    return handlers
      .handle("queues", () => Effect.provideService(queueMetrics, TaskStore, store))
      .handle("prometheus", () => Metrics.exposition)
  }))
