import { ExternalCalendarSync } from "@clinic/calendar"
import { CleanupConfig, Media, SessionCleanup } from "@clinic/cleanup"
import { OutboxStore } from "@clinic/events"
import { TaskStore } from "@clinic/queue"
import * as Repositories from "@clinic/repository/Repositories"
import { RunStore } from "@clinic/scheduler-engine"
import { ConfigProvider, Layer } from "effect"
import { TaskRegistry } from "../src/Background.js"
import { EngineLive } from "../src/Jobs.js"
import { SchedulerConfig } from "../src/SchedulerConfig.js"

/** Settings from `env` alone, for whatever layer it is provided to. */
export const settings = (env: Record<string, string> = {}) =>
  Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

export const configLayer = (env: Record<string, string> = {}) =>
  SchedulerConfig.Default.pipe(Layer.provide(settings(env)))

/**
 * The app's engine, cleanup, task registry and feed sync over in-memory repositories, run history
 * and task store, every setting read from `env`.
 */
export const memoryApp = (env: Record<string, string> = {}) =>
  EngineLive.pipe(
    Layer.provideMerge(SessionCleanup.Default),
    Layer.provideMerge(TaskRegistry.layer),
    Layer.provideMerge(Layer.mergeAll(OutboxStore.layerMemory, TaskStore.layerMemory)),
    Layer.provideMerge(Layer.mergeAll(Media.layerMemory(), CleanupConfig.make(), RunStore.layerMemory)),
    Layer.provideMerge(ExternalCalendarSync.layer),
    Layer.provideMerge(Repositories.layerMemory),
    Layer.provideMerge(SchedulerConfig.Default),
    Layer.provide(settings({ SCHEDULER_REPLICA_ID: "test-replica", ...env }))
  )
