import { Metric, MetricBoundaries, MetricLabel } from "effect"

/** Finished runs, tagged `task`, `queue` and `outcome` (succeeded, retried, dead, released). */
export const runs = Metric.counter("clinic_task_runs_total", {
  description: "Task runs by outcome",
  incremental: true
})

/** Tasks accepted by `enqueue`, tagged `task` and `queue` (idempotent repeats excluded). */
export const enqueued = Metric.counter("clinic_tasks_enqueued_total", {
  description: "Tasks enqueued",
  incremental: true
})

/** Handler run time in seconds, tagged `task` and `queue`. */
export const duration = Metric.histogram(
  "clinic_task_duration_seconds",
  MetricBoundaries.exponential({ start: 0.005, factor: 2, count: 16 }),
  "Task handler run time in seconds"
)

/** Tasks per queue and state (ready, scheduled, running, dead), sampled by the workers. */
export const depth = Metric.gauge("clinic_queue_depth", { description: "Tasks per queue and state" })

/** `metric` with the given tags. */
export const tagged = <Type, In, Out>(
  metric: Metric.Metric<Type, In, Out>,
  tags: Readonly<Record<string, string>>
): Metric.Metric<Type, In, Out> =>
  Metric.taggedWithLabels(metric, Object.entries(tags).map(([key, value]) => MetricLabel.make(key, value)))
