import { OutboxStore } from "../src/OutboxStore.js"
import { outboxOrderContract } from "./OutboxOrderContract.js"

outboxOrderContract("memory", OutboxStore.layerMemory)
