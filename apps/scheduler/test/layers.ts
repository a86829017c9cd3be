import { CalendarSyncConfig, ExternalCalendarSync } from "@clinic/calendar"
import { CleanupConfig, Media, SessionCleanup } from "@clinic/cleanup"
import { OutboxStore } from "@clinic/events"
import { Settings } from "@clinic/foundation"
import { TaskStore } from "@clinic/queue"
import * as Repositories from "@clinic/repository/Repositories"
import { RunStore } from "@clinic/scheduler-engine"
import { StorageConfig } from "@clinic/storage"
import { ConfigProvider, Layer } from "effect"
import { TaskRegistry } from "../src/Background.js"
import { EngineLive } from "../src/Jobs.js"
import { SchedulerConfig } from "../src/SchedulerConfig.js"

/** The app's config services, loaded as `main` loads them, from `env` alone. */
export const configLayer = (env: Record<string, string> = {}) =>
  Settings.layer(SchedulerConfig, CleanupConfig, CalendarSyncConfig, StorageConfig.StorageConfig).pipe(
    Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))
  )

/** The app's engine and cleanup over in-memory repositories and run history. */
export const memoryApp = (env: Record<string, string> = {}) =>
  EngineLive.pipe(
    Layer.provideMerge(SessionCleanup.Default),
    Layer.provideMerge(TaskRegistry.layer),
    Layer.provideMerge(Layer.mergeAll(OutboxStore.layerMemory, TaskStore.layerMemory)),
    Layer.provideMerge(Layer.mergeAll(Media.layerMemory(), RunStore.layerMemory)),
    Layer.provideMerge(ExternalCalendarSync.layer),
    Layer.provideMerge(Repositories.layerMemory),
    Layer.provideMerge(configLayer({ SCHEDULER_REPLICA_ID: "test-replica", ...env }))
  )
