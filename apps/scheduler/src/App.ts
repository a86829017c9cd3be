import { CleanupConfig, MediaStore, SessionCleanup } from "@clinic/cleanup"
import * as Repositories from "@clinic/repository/Repositories"
import { RunStore } from "@clinic/scheduler-engine"
import { Layer } from "effect"
import { AdminHttpLive } from "./AdminHttp.js"
import { EngineLive, SchedulerLive } from "./Jobs.js"
import { SchedulerConfig } from "./SchedulerConfig.js"

/** Cleanup on Postgres repositories and the local media folder; needs a `SqlClient`. */
export const CleanupPg = SessionCleanup.Default.pipe(
  Layer.provide([Repositories.layerPg, MediaStore.layer, CleanupConfig.layer])
)

/**
 * The whole scheduler app over a `SqlClient`: the engine with its jobs, started, and the admin
 * API. Releasing it closes the HTTP server, then stops the engine under its stop budget.
 */
export const AppLive = Layer.mergeAll(AdminHttpLive, SchedulerLive).pipe(
  Layer.provide(EngineLive),
  Layer.provideMerge(Layer.mergeAll(CleanupPg, RunStore.layerPg)),
  Layer.provide(SchedulerConfig.Default)
)
