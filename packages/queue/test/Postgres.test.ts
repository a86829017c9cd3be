import * as TestDatabase from "@clinic/repository/testing/TestDatabase"
import { Layer } from "effect"
import { TaskStore } from "../src/TaskStore.js"
import { taskQueueContract } from "./TaskQueueContract.js"

taskQueueContract("postgres", TaskStore.layerPg.pipe(Layer.provide(TestDatabase.layer)))
