import { Database } from "@clinic/repository"
import * as Repositories from "@clinic/repository/Repositories"
import { NodeRuntime } from "@effect/platform-node"
import { Layer } from "effect"
import { HttpLive } from "./Http.js"

HttpLive.pipe(
  Layer.provide(Repositories.layerPg),
  Layer.provide(Database.layer),
  Layer.launch,
  NodeRuntime.runMain
)
