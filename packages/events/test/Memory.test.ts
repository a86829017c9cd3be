import { TaskStore } from "@clinic/queue"
import { sqlClientLayer } from "@clinic/repository/MemoryDb"
import { Layer } from "effect"
import { OutboxStore } from "../src/OutboxStore.js"
import { eventBusContract } from "./EventBusContract.js"

eventBusContract("memory", Layer.mergeAll(OutboxStore.layerMemory, TaskStore.layerMemory, sqlClientLayer))
