import type { MetricPair } from "effect"
import { Effect, Metric, MetricBoundaries, MetricLabel, MetricState } from "effect"

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

const escapeLabel = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, "\\\"")

const labels = (tags: ReadonlyArray<{ readonly key: string; readonly value: string }>, extra: Array<string> = []) => {
  const all = [...tags.map((tag) => `${tag.key}="${escapeLabel(tag.value)}"`), ...extra]
  return all.length === 0 ? "" : `{${all.join(",")}}`
}

const number = (value: number | bigint) =>
  typeof value === "bigint" ? value.toString() : Number.isFinite(value) ? String(value) : value > 0 ? "+Inf" : "-Inf"

/** The Prometheus text exposition (format 0.0.4) of the given metrics. */
export const renderPrometheus = (pairs: ReadonlyArray<MetricPair.MetricPair.Untyped>): string => {
  const families = new Map<string, { type: string; help: string | undefined; lines: Array<string> }>()
  const family = (name: string, type: string, help: string | undefined) => {
    const existing = families.get(name)
    if (existing) return existing.lines
    const created = { type, help, lines: [] as Array<string> }
    families.set(name, created)
    return created.lines
  }
  for (const pair of pairs) {
    const name = pair.metricKey.name.replace(/[^a-zA-Z0-9_:]/g, "_")
    const help = pair.metricKey.description._tag === "Some" ? pair.metricKey.description.value : undefined
    const tags = pair.metricKey.tags
    const state = pair.metricState
    if (MetricState.isCounterState(state)) {
      family(name, "counter", help).push(`${name}${labels(tags)} ${number(state.count)}`)
    } else if (MetricState.isGaugeState(state)) {
      family(name, "gauge", help).push(`${name}${labels(tags)} ${number(state.value)}`)
    } else if (MetricState.isHistogramState(state)) {
      const lines = family(name, "histogram", help)
      for (const [boundary, count] of state.buckets) {
        lines.push(`${name}_bucket${labels(tags, [`le="${number(boundary)}"`])} ${count}`)
      }
      if (!state.buckets.some(([boundary]) => boundary === Number.POSITIVE_INFINITY)) {
        lines.push(`${name}_bucket${labels(tags, [`le="+Inf"`])} ${state.count}`)
      }
      lines.push(`${name}_sum${labels(tags)} ${number(state.sum)}`, `${name}_count${labels(tags)} ${state.count}`)
    } else if (MetricState.isSummaryState(state)) {
      const lines = family(name, "summary", help)
      for (const [quantile, value] of state.quantiles) {
        if (value._tag === "Some") {
          lines.push(`${name}${labels(tags, [`quantile="${quantile}"`])} ${number(value.value)}`)
        }
      }
      lines.push(`${name}_sum${labels(tags)} ${number(state.sum)}`, `${name}_count${labels(tags)} ${state.count}`)
    } else if (MetricState.isFrequencyState(state)) {
      const lines = family(name, "counter", help)
      for (const [key, count] of state.occurrences) {
        lines.push(`${name}${labels(tags, [`key="${escapeLabel(key)}"`])} ${count}`)
      }
    }
  }
  const out: Array<string> = []
  for (const [name, { help, lines, type }] of [...families].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (help) out.push(`# HELP ${name} ${help.replace(/\n/g, " ")}`)
    out.push(`# TYPE ${name} ${type}`, ...lines.sort())
  }
  return out.length === 0 ? "" : out.join("\n") + "\n"
}

/** Every metric of the process as Prometheus text, for a `/metrics` endpoint. */
export const prometheus: Effect.Effect<string> = Effect.map(Metric.snapshot, renderPrometheus)
