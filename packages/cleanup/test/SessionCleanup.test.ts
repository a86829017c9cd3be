import { OutboxStore } from "@clinic/events"
import * as Repositories from "@clinic/repository/Repositories"
import { Layer } from "effect"
import { sessionCleanupContract } from "./SessionCleanupContract.js"

sessionCleanupContract("memory", Layer.merge(Repositories.layerMemory, OutboxStore.layerMemory))
