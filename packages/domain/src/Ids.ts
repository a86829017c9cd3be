import { Schema } from "effect"

export const UserId = Schema.UUID.pipe(Schema.brand("UserId"))
export type UserId = typeof UserId.Type

export const AuthSessionId = Schema.UUID.pipe(Schema.brand("AuthSessionId"))
export type AuthSessionId = typeof AuthSessionId.Type

export const AuthSessionMediaId = Schema.UUID.pipe(Schema.brand("AuthSessionMediaId"))
export type AuthSessionMediaId = typeof AuthSessionMediaId.Type

export const PatientId = Schema.UUID.pipe(Schema.brand("PatientId"))
export type PatientId = typeof PatientId.Type

export const BookingId = Schema.UUID.pipe(Schema.brand("BookingId"))
export type BookingId = typeof BookingId.Type

export const ExternalCalendarId = Schema.UUID.pipe(Schema.brand("ExternalCalendarId"))
export type ExternalCalendarId = typeof ExternalCalendarId.Type
