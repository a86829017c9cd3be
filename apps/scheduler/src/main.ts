import { Database } from "@clinic/repository"
import { NodeRuntime } from "@effect/platform-node"
import { Layer } from "effect"
import { AdminHttpLive } from "./AdminHttp.js"

AdminHttpLive.pipe(
  Layer.provide(Database.layer),
  Layer.launch,
  NodeRuntime.runMain
)
