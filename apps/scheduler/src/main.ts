import { Database } from "@clinic/repository"
import { NodeRuntime } from "@effect/platform-node"
import { Layer } from "effect"
import { AppLive } from "./App.js"

// SIGINT/SIGTERM: runMain interrupts, the layers' finalizers stop the engine gracefully.
AppLive.pipe(
  Layer.provide(Database.layer),
  Layer.launch,
  NodeRuntime.runMain
)
