import { Database } from "@clinic/repository"
import { NodeRuntime } from "@effect/platform-node"
import { Layer } from "effect"
import { HttpLive } from "./Http.js"

HttpLive.pipe(
  Layer.provide(Database.layer),
  Layer.launch,
  NodeRuntime.runMain
)
