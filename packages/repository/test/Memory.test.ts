import * as Repositories from "../src/Repositories.js"
import { authSessionRepoContract } from "./AuthSessionRepoContract.js"
import { bookingRepoContract } from "./BookingRepoContract.js"
import { patientRepoContract } from "./PatientRepoContract.js"
import { userRepoContract } from "./UserRepoContract.js"

userRepoContract("memory", Repositories.layerMemory)
authSessionRepoContract("memory", Repositories.layerMemory)
patientRepoContract("memory", Repositories.layerMemory)
bookingRepoContract("memory", Repositories.layerMemory)
