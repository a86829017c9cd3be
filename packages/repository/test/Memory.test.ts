import { Layer } from "effect"
import { IdempotencyRepo } from "../src/IdempotencyRepo.js"
import * as Repositories from "../src/Repositories.js"
import { authSessionRepoContract } from "./AuthSessionRepoContract.js"
import { bookingRepoContract } from "./BookingRepoContract.js"
import { calendarRepoContract } from "./CalendarRepoContract.js"
import { idempotencyRepoContract } from "./IdempotencyRepoContract.js"
import { loginAuditRepoContract } from "./LoginAuditRepoContract.js"
import { operatorActionRepoContract } from "./OperatorActionRepoContract.js"
import { patientRepoContract } from "./PatientRepoContract.js"
import { rateLimitRepoContract } from "./RateLimitRepoContract.js"
import { recordingRepoContract } from "./RecordingRepoContract.js"
import { userRepoContract } from "./UserRepoContract.js"

userRepoContract("memory", Repositories.layerMemory)
authSessionRepoContract("memory", Repositories.layerMemory)
patientRepoContract("memory", Repositories.layerMemory)
bookingRepoContract("memory", Repositories.layerMemory)
calendarRepoContract("memory", Repositories.layerMemory)
recordingRepoContract("memory", Repositories.layerMemory)
rateLimitRepoContract("memory", Repositories.layerMemory)
loginAuditRepoContract("memory", Repositories.layerMemory)
operatorActionRepoContract("memory", Repositories.layerMemory)
idempotencyRepoContract("memory", Layer.merge(Repositories.layerMemory, IdempotencyRepo.layerMemory))
