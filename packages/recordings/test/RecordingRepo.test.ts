import * as Repositories from "@clinic/repository/Repositories"
import * as TestDatabase from "@clinic/repository/testing/TestDatabase"
import { Layer } from "effect"
import * as RecordingRepo from "../src/RecordingRepo.js"
import { recordingRepoContract } from "./RecordingRepoContract.js"

recordingRepoContract("memory", Layer.merge(RecordingRepo.layerMemory, Repositories.layerMemory))
recordingRepoContract(
  "postgres",
  Layer.merge(RecordingRepo.layerPg, Repositories.layerPg).pipe(Layer.provide(TestDatabase.layer))
)
