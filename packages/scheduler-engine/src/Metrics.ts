import type { RunOutcome } from "@clinic/domain"
import { DateTime, Effect, Metric, MetricBoundaries } from "effect"

/**
 * The engine's metrics, per replica (sum the runs over replicas, take the max of the last success).
 * Tagged `job`; runs also `outcome`, as in the run history.
 */

/** Finished or skipped ticks handled by this replica, tagged `job` and `outcome`. */
export const runs = Metric.counter("clinic_scheduler_job_runs_total", {
  description:
    "Scheduler job runs handled by this replica, by job and outcome (succeeded, failed, interrupted, skipped)",
  incremental: true
})

/** How long after its scheduled time a run started, tagged `job` (manual runs are not late). */
export const lateness = Metric.histogram(
  "clinic_scheduler_job_lateness_seconds",
  MetricBoundaries.fromIterable([0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600]),
  "Seconds between a job run's scheduled time and its start, by job"
)

/** When this replica last finished a run of the job successfully, in Unix seconds, tagged `job`. */
export const lastSuccess = Metric.gauge("clinic_scheduler_job_last_success_timestamp_seconds", {
  description: "Unix time of the last successful run of the job on this replica"
})

/** Counts a run of `job` that ended with `outcome`; a success also sets the last success time. */
export const recordRun = (job: string, outcome: RunOutcome, at: DateTime.DateTime): Effect.Effect<void> =>
  Effect.zipRight(
    Metric.increment(Metric.tagged(Metric.tagged(runs, "job", job), "outcome", outcome)),
    outcome === "succeeded"
      ? Metric.set(Metric.tagged(lastSuccess, "job", job), DateTime.toEpochMillis(at) / 1000)
      : Effect.void
  )

/** Records how late a run of `job` started: `startedAt` minus `scheduledAt`. */
export const recordLateness = (job: string, scheduledAt: DateTime.DateTime, startedAt: DateTime.DateTime) =>
  Metric.update(
    Metric.tagged(lateness, "job", job),
    Math.max(0, DateTime.toEpochMillis(startedAt) - DateTime.toEpochMillis(scheduledAt)) / 1000
  )
