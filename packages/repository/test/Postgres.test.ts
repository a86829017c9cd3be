import { Layer } from "effect"
import { IdempotencyRepo } from "../src/IdempotencyRepo.js"
import * as Repositories from "../src/Repositories.js"
import * as TestDatabase from "../src/testing/TestDatabase.js"
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

const layer = Repositories.layerPg.pipe(Layer.provideMerge(TestDatabase.layer))

userRepoContract("postgres", layer)
authSessionRepoContract("postgres", layer)
patientRepoContract("postgres", layer)
bookingRepoContract("postgres", layer)
calendarRepoContract("postgres", layer)
recordingRepoContract("postgres", layer)
rateLimitRepoContract("postgres", layer)
loginAuditRepoContract("postgres", layer)
operatorActionRepoContract("postgres", layer)
idempotencyRepoContract(
  "postgres",
  Layer.merge(Repositories.layerPg, IdempotencyRepo.layerPg).pipe(Layer.provideMerge(TestDatabase.layer))
)
