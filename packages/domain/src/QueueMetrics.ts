import { Schema } from "effect"

/** Tasks of one queue by state, as the task table holds them now. */
export class QueueDepthView extends Schema.Class<QueueDepthView>("QueueDepthView")({
  queue: Schema.String,
  ready: Schema.Number,
  scheduled: Schema.Number,
  running: Schema.Number,
  dead: Schema.Number
}) {}

/** Finished runs of one task by outcome (succeeded, retried, dead, released), since this process started. */
export class TaskRunCount extends Schema.Class<TaskRunCount>("TaskRunCount")({
  task: Schema.String,
  queue: Schema.String,
  outcome: Schema.String,
  count: Schema.Number
}) {}

/** Handler run times of one task since this process started. */
export class TaskDurationView extends Schema.Class<TaskDurationView>("TaskDurationView")({
  task: Schema.String,
  queue: Schema.String,
  count: Schema.Number,
  sumSeconds: Schema.Number,
  minSeconds: Schema.Number,
  maxSeconds: Schema.Number
}) {}

export class QueueMetrics extends Schema.Class<QueueMetrics>("QueueMetrics")({
  depth: Schema.Array(QueueDepthView),
  runs: Schema.Array(TaskRunCount),
  durations: Schema.Array(TaskDurationView),
  workers: Schema.Struct({
    state: Schema.String,
    listening: Schema.Boolean,
    inFlight: Schema.Record({ key: Schema.String, value: Schema.Number })
  }),
  events: Schema.Struct({ state: Schema.String, listening: Schema.Boolean, dispatched: Schema.Number })
}) {}
