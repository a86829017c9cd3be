import { TaskStore } from "@clinic/queue"
import { Layer } from "effect"
import { OutboxStore } from "../src/OutboxStore.js"
import { eventBusContract } from "./EventBusContract.js"

eventBusContract("memory", Layer.merge(OutboxStore.layerMemory, TaskStore.layerMemory))
