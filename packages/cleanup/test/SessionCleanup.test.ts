import * as Repositories from "@clinic/repository/Repositories"
import { sessionCleanupContract } from "./SessionCleanupContract.js"

sessionCleanupContract("memory", Repositories.layerMemory)
