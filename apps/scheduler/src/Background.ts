import { calendarQueue, syncFeedTask } from "@clinic/calendar"
import { EventBus } from "@clinic/events"
import { BookingEmails } from "@clinic/mail"
import { Registry, Task, TaskStore, Worker } from "@clinic/queue"
import { Context, DateTime, Duration, Effect, Layer, Option, Schema } from "effect"
import { SchedulerConfig } from "./SchedulerConfig.js"

export const MAINTENANCE_QUEUE = "maintenance"

/** Deletes dispatched outbox rows and finished tasks past their retention (run history has its own job). */
export const maintenancePrune = Task.make({
  name: "maintenance.prune",
  payload: Schema.Struct({}),
  queue: MAINTENANCE_QUEUE,
  maxAttempts: 3,
  timeout: "10 minutes",
  handler: () =>
    Effect.gen(function*() {
      const config = yield* SchedulerConfig
      const store = yield* TaskStore
      const outboxRows = yield* EventBus.pruneDispatched(config.outboxRetention)
      const tasks = yield* store.prune(DateTime.subtractDuration(yield* DateTime.now, config.taskRetention))
      yield* Effect.logInfo("maintenance: pruned").pipe(Effect.annotateLogs({ outboxRows, tasks }))
    })
})

/** Every task this scheduler's workers run (event deliveries live in the bus's own registry). */
export const tasks = [...BookingEmails.tasks, maintenancePrune, syncFeedTask] as const

export type TaskContext = Task.Context<(typeof tasks)[number]>

/**
 * The checked task registry: the email, maintenance and calendar queues and their tasks. (The
 * entries of `SCHEDULER_PERIODIC_TASKS` name these tasks; they become engine jobs in `Jobs.ts`.)
 */
export class TaskRegistry extends Context.Tag("@clinic/scheduler/TaskRegistry")<
  TaskRegistry,
  Registry.Registry<TaskContext>
>() {
  static readonly layer = Layer.effect(
    TaskRegistry,
    Effect.gen(function*() {
      const config = yield* SchedulerConfig
      return yield* Registry.make({
        tasks,
        queues: [
          { name: BookingEmails.EMAIL_QUEUE, concurrency: config.emailConcurrency },
          { name: MAINTENANCE_QUEUE, concurrency: 1 },
          yield* calendarQueue
        ]
      })
    }).pipe(Effect.tapError((error) => Effect.logError(error.message)))
  )
}

/**
 * Each part drains within half the stop budget; the engine's own stop runs beside them, so the
 * whole release stays within `SCHEDULER_STOP_BUDGET`.
 */
const drainBudget = (config: SchedulerConfig) =>
  Option.getOrElse(Duration.divide(config.stopBudget, 2), () => config.stopBudget)

/**
 * Task workers for the registry's queues (or those of `SCHEDULER_QUEUES`); closing the layer
 * stops claiming and drains.
 */
export const WorkersLive = Layer.unwrapEffect(
  Effect.gen(function*() {
    const registry = yield* TaskRegistry
    const config = yield* SchedulerConfig
    const queues = Option.getOrElse(config.workQueues, () => [...registry.queues.keys()])
    const unknown = queues.filter((name) => !registry.queues.has(name))
    if (unknown.length > 0) {
      return yield* new Registry.RegistryError({
        problems: unknown.map((name) => `SCHEDULER_QUEUES names queue "${name}", which is not configured`)
      })
    }
    return Worker.layer(registry, { queues, shutdownBudget: drainBudget(config) })
  })
)

/** The event bus with its subscribers (booking emails), relaying the outbox and delivering. */
export const EventBusLive = Layer.unwrapEffect(
  Effect.map(SchedulerConfig, (config) =>
    EventBus.layer({
      subscribers: [BookingEmails.bookingEmails],
      concurrency: config.eventConcurrency,
      shutdownBudget: drainBudget(config)
    }))
)

/**
 * The background work of the scheduler: workers and bus. Needs the stores, the repositories the
 * handlers read, a `Mailer`, the config and the registry.
 */
export const BackgroundLive = Layer.mergeAll(WorkersLive, EventBusLive)
