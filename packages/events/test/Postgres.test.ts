import { TaskStore } from "@clinic/queue"
import * as TestDatabase from "@clinic/repository/testing/TestDatabase"
import { Layer } from "effect"
import { OutboxStore } from "../src/OutboxStore.js"
import { eventBusContract } from "./EventBusContract.js"
import { outboxOrderContract } from "./OutboxOrderContract.js"

eventBusContract(
  "postgres",
  Layer.merge(OutboxStore.layerPg, TaskStore.layerPg).pipe(Layer.provideMerge(TestDatabase.layer))
)

outboxOrderContract("postgres", OutboxStore.layerPg.pipe(Layer.provideMerge(TestDatabase.layer)))
