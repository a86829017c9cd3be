import { CalendarSyncConfig, ExternalCalendarSync } from "@clinic/calendar"
import { AuthSessionMediaStore, CleanupConfig, SessionCleanup } from "@clinic/cleanup"
import { OutboxStore } from "@clinic/events"
import { Settings } from "@clinic/foundation"
import { MailConfig, Mailer } from "@clinic/mail"
import { TaskStore } from "@clinic/queue"
import { Database } from "@clinic/repository"
import * as Repositories from "@clinic/repository/Repositories"
import { RunStore } from "@clinic/scheduler-engine"
import { FileStores, StorageConfig } from "@clinic/storage"
import { Telemetry } from "@clinic/telemetry"
import { Layer } from "effect"
import { AdminHttpLive } from "./AdminHttp.js"
import { BackgroundLive, TaskRegistry } from "./Background.js"
import { EngineLive, SchedulerLive } from "./Jobs.js"
import { SchedulerConfig } from "./SchedulerConfig.js"

/**
 * The scheduler's settings and those of the packages it runs, loaded in one pass before anything
 * starts (every problem reported at once, each by its variable).
 */
export const ConfigLive = Settings.layer(
  SchedulerConfig,
  Database.DatabaseConfig,
  CleanupConfig,
  MailConfig,
  CalendarSyncConfig,
  StorageConfig.StorageConfig,
  Telemetry.TelemetryConfig
)

/**
 * Cleanup on Postgres repositories and the auth session media's file store (a local folder or the
 * bucket, as `StorageConfig` says); needs a `SqlClient`, `CleanupConfig` and `StorageConfig`.
 */
export const CleanupPg = SessionCleanup.Default.pipe(
  Layer.provide([
    Repositories.layerPg,
    OutboxStore.layerPg,
    AuthSessionMediaStore.layer.pipe(Layer.provide(FileStores.FileStores.layer))
  ])
)

/**
 * The whole scheduler app over a `SqlClient`, `PgClient` and `ConfigLive`'s services: the engine
 * with its jobs, started; the task workers and the event bus; the admin API. Releasing it closes the HTTP server, stops
 * the engine, stops claiming tasks and drains running ones, all under the stop budget. A bad
 * task configuration (`SCHEDULER_PERIODIC_TASKS`) fails the start with every problem listed.
 */
export const AppLive = Layer.mergeAll(AdminHttpLive, SchedulerLive).pipe(
  Layer.provide(EngineLive),
  // Below the admin API (its metrics report the workers and the bus) and released after the engine.
  Layer.provideMerge(BackgroundLive),
  Layer.provideMerge(TaskRegistry.layer),
  Layer.provideMerge(
    Layer.mergeAll(
      CleanupPg,
      RunStore.layerPg,
      OutboxStore.layerPg,
      TaskStore.layerPg,
      Repositories.layerPg,
      Mailer.layer,
      ExternalCalendarSync.layer.pipe(Layer.provide(Repositories.layerPg))
    )
  )
)
