import { RunStore } from "../src/RunStore.js"
import * as RunStoreContract from "./RunStoreContract.js"

RunStoreContract.suite("memory", RunStore.layerMemory)
