import { HttpApi, OpenApi } from "@effect/platform"
import { AuthApi } from "./AuthApi.js"
import { BookingsApi } from "./BookingsApi.js"
import { CalendarApi, CalendarFeedApi } from "./CalendarApi.js"
import { PayloadTooLarge, UnsupportedMediaType } from "./Errors.js"
import { HealthApi } from "./HealthApi.js"
import { InternalError, RequestTimeout, RouteNotFound, ServiceUnavailable } from "./HttpErrors.js"
import { withRequestIdHeader } from "./OpenApiDocs.js"
import { PatientsApi } from "./PatientsApi.js"
import { RecordingsApi } from "./Recordings.js"

/** The public API of `apps/api`. Each feature adds its group here. */
export class ClinicApi extends HttpApi.make("clinic")
  .add(HealthApi)
  .add(AuthApi)
  .add(PatientsApi)
  .add(BookingsApi)
  .add(CalendarApi)
  .add(CalendarFeedApi)
  .add(RecordingsApi)
  .addError(InternalError)
  .addError(RouteNotFound)
  .addError(PayloadTooLarge)
  .addError(UnsupportedMediaType)
  .addError(RequestTimeout)
  .addError(ServiceUnavailable)
  .annotateContext(OpenApi.annotations({
    title: "Clinic API",
    description: "The clinic's public API: accounts, patients, bookings, calendars and recordings. " +
      "Every error is JSON `{ _tag, message, ... }`.",
    servers: [{ url: "/", description: "The API that serves this document" }],
    transform: withRequestIdHeader
  }))
{}
