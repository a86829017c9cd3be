import { TaskStore } from "../src/TaskStore.js"
import { taskQueueContract } from "./TaskQueueContract.js"

taskQueueContract("memory", TaskStore.layerMemory)
