import { Duration, Effect, Schema } from "effect"
import type * as Task from "./Task.js"

export interface QueueConfig {
  readonly name: string
  /** Tasks of this queue that one process runs at once. */
  readonly concurrency: number
  /** How often an idle worker looks for due tasks when no notification woke it. Default 1 second. */
  readonly pollInterval?: Duration.DurationInput
  /** How long a claim holds a task before another worker may take it; renewed while it runs. Default 30 seconds. */
  readonly lease?: Duration.DurationInput
}

export interface ResolvedQueue {
  readonly name: string
  readonly concurrency: number
  readonly pollInterval: Duration.Duration
  readonly lease: Duration.Duration
}

export class RegistryError extends Schema.TaggedError<RegistryError>()("RegistryError", {
  problems: Schema.Array(Schema.String)
}) {
  override get message() {
    return `Invalid task configuration:\n  - ${this.problems.join("\n  - ")}`
  }
}

/** A checked set of tasks and queues; `R` is what the handlers need. */
export interface Registry<out R> {
  readonly tasks: ReadonlyMap<string, Task.Any>
  readonly queues: ReadonlyMap<string, ResolvedQueue>
  readonly _R?: (_: never) => R
}

const isPositiveInteger = (n: number) => Number.isInteger(n) && n >= 1

/**
 * Checks the configuration and fails with every problem at once, so that a bad deployment stops
 * at start-up with one readable message. `references` are task names used elsewhere (event
 * subscribers, the scheduler's jobs) that must exist.
 */
export const make = <const Tasks extends ReadonlyArray<Task.Any>>(config: {
  readonly tasks: Tasks
  readonly queues: ReadonlyArray<QueueConfig>
  readonly references?: ReadonlyArray<string>
}): Effect.Effect<Registry<Task.Context<Tasks[number]>>, RegistryError> =>
  Effect.suspend(() => {
    const problems: Array<string> = []
    const queues = new Map<string, ResolvedQueue>()
    for (const queue of config.queues) {
      if (queues.has(queue.name)) problems.push(`queue "${queue.name}" is configured twice`)
      if (!isPositiveInteger(queue.concurrency)) {
        problems.push(`queue "${queue.name}" needs a concurrency of at least 1 (got ${queue.concurrency})`)
      }
      const lease = Duration.decode(queue.lease ?? "30 seconds")
      if (Duration.toMillis(lease) < 1000) problems.push(`queue "${queue.name}" has a lease shorter than 1 second`)
      queues.set(queue.name, {
        name: queue.name,
        concurrency: queue.concurrency,
        pollInterval: Duration.decode(queue.pollInterval ?? "1 second"),
        lease
      })
    }
    const tasks = new Map<string, Task.Any>()
    for (const task of config.tasks) {
      if (task.name.length === 0) problems.push("a task has an empty name")
      if (tasks.has(task.name)) problems.push(`task "${task.name}" is defined twice`)
      if (!queues.has(task.queue)) {
        problems.push(`task "${task.name}" uses queue "${task.queue}", which is not configured`)
      }
      if (!isPositiveInteger(task.maxAttempts)) problems.push(`task "${task.name}" needs maxAttempts of at least 1`)
      if (!Number.isInteger(task.priority)) problems.push(`task "${task.name}" has a non-integer priority`)
      tasks.set(task.name, task)
    }
    for (const name of config.references ?? []) {
      if (!tasks.has(name)) problems.push(`task "${name}" is referenced but not defined`)
    }
    return problems.length > 0
      ? Effect.fail(new RegistryError({ problems }))
      : Effect.succeed<Registry<Task.Context<Tasks[number]>>>({ tasks, queues })
  })
