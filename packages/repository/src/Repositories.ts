import { Layer } from "effect"
import { AuthSessionRepo } from "./AuthSessionRepo.js"
import { BookingRepo } from "./BookingRepo.js"
import { CalendarFeedRepo } from "./CalendarFeedRepo.js"
import { ExternalCalendarRepo } from "./ExternalCalendarRepo.js"
import { LoginAuditRepo } from "./LoginAuditRepo.js"
import { MemoryDb, sqlClientLayer } from "./MemoryDb.js"
import { OperatorActionRepo } from "./OperatorActionRepo.js"
import { PatientRepo } from "./PatientRepo.js"
import { RateLimitRepo } from "./RateLimitRepo.js"
import { RecordingRepo } from "./RecordingRepo.js"
import { UserRepo } from "./UserRepo.js"

/** Every repository on Postgres; needs a `SqlClient`. */
export const layerPg = Layer.mergeAll(
  UserRepo.layerPg,
  AuthSessionRepo.layerPg,
  PatientRepo.layerPg,
  BookingRepo.layerPg,
  CalendarFeedRepo.layerPg,
  ExternalCalendarRepo.layerPg,
  RecordingRepo.layerPg,
  RateLimitRepo.layerPg,
  LoginAuditRepo.layerPg,
  OperatorActionRepo.layerPg
)

/**
 * Every repository on one fresh in-memory store, which stays reachable as `MemoryDb`, with the
 * memory `SqlClient` whose transactions are the identity.
 */
export const layerMemory = Layer.mergeAll(
  UserRepo.layerMemory,
  AuthSessionRepo.layerMemory,
  PatientRepo.layerMemory,
  BookingRepo.layerMemory,
  CalendarFeedRepo.layerMemory,
  ExternalCalendarRepo.layerMemory,
  RecordingRepo.layerMemory,
  RateLimitRepo.layerMemory,
  LoginAuditRepo.layerMemory,
  OperatorActionRepo.layerMemory
).pipe(Layer.provideMerge(Layer.merge(MemoryDb.layer, sqlClientLayer)))
