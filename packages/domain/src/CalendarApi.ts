import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { Authentication } from "./Authentication.js"
import { NotFound } from "./Errors.js"
import { ExternalCalendarId, UserId } from "./Ids.js"
import { docs } from "./OpenApiDocs.js"
import { Timestamp } from "./Timestamp.js"

/** The private feed URL, shown once when the token is made; only its digest is stored. */
export class CalendarFeedCreated extends Schema.Class<CalendarFeedCreated>("CalendarFeedCreated")({
  url: Schema.String,
  path: Schema.String,
  createdAt: Timestamp
}) {}

/** An external ICS feed whose busy times block bookings. */
export class ExternalCalendar extends Schema.Class<ExternalCalendar>("ExternalCalendar")({
  id: ExternalCalendarId,
  therapistId: UserId,
  url: Schema.String,
  label: Schema.NullOr(Schema.String),
  createdAt: Timestamp,
  /** The last import that replaced the busy times; `null` before the first. */
  lastSyncedAt: Schema.NullOr(Timestamp),
  lastAttemptAt: Schema.NullOr(Timestamp),
  /** Why the last attempt failed; `null` after a success. The previous import stays in force. */
  lastError: Schema.NullOr(Schema.String)
}) {}

/** `webcal://` (what calendar apps hand out) is fetched over https. */
export const ExternalCalendarUrl = Schema.Trim.pipe(
  Schema.maxLength(2000),
  Schema.filter((value) => {
    try {
      const url = new URL(value)
      return ["http:", "https:", "webcal:"].includes(url.protocol) && url.hostname !== "" ||
        "Expected an http(s) or webcal URL"
    } catch {
      return "Expected an http(s) or webcal URL"
    }
  })
)

export class AddExternalCalendar extends Schema.Class<AddExternalCalendar>("AddExternalCalendar")({
  url: ExternalCalendarUrl,
  label: Schema.optional(Schema.NullOr(Schema.String.pipe(Schema.maxLength(200))))
}) {}

/** The therapist registered this feed URL already. */
export class ExternalCalendarExists extends Schema.TaggedError<ExternalCalendarExists>()(
  "ExternalCalendarExists",
  { message: Schema.String, calendarId: ExternalCalendarId },
  HttpApiSchema.annotations({ status: 409 })
) {}

/** A therapist has at most this many external feeds. */
export const MAX_EXTERNAL_CALENDARS = 10

export class TooManyExternalCalendars extends Schema.TaggedError<TooManyExternalCalendars>()(
  "TooManyExternalCalendars",
  { message: Schema.String, max: Schema.Number },
  HttpApiSchema.annotations({ status: 409 })
) {}

/**
 * The private iCalendar feed. No bearer token: the unguessable token in the path is the
 * credential (calendar apps cannot send headers). An unknown or revoked token is a 404.
 */
export class CalendarFeedApi extends HttpApiGroup.make("calendarFeed")
  .add(
    HttpApiEndpoint.get("feed", "/calendar/:file").annotate(OpenApi.Summary, "The private calendar feed")
      .setPath(Schema.Struct({ file: Schema.String }))
      .addSuccess(HttpApiSchema.Text({ contentType: "text/calendar; charset=utf-8" }))
      .addError(NotFound)
      .annotate(OpenApi.Description, "The therapist's bookings as iCalendar; `file` is `<token>.ics`.")
  )
  .annotate(OpenApi.Title, "Calendar feed")
  .annotate(
    OpenApi.Description,
    "The private iCalendar feed, for calendar apps; the token in its URL is the credential."
  )
{}

/** Managing the feed token and the external calendars of the signed-in therapist. */
export class CalendarApi extends HttpApiGroup.make("calendar")
  .add(
    HttpApiEndpoint.post("createFeed", "/calendar/feed").annotate(OpenApi.Summary, "Make a calendar feed URL")
      .addSuccess(CalendarFeedCreated, { status: 201 })
      .annotate(OpenApi.Description, "Makes a new feed token, revoking any previous one; the URL is shown only here.")
  )
  .add(
    HttpApiEndpoint.del("revokeFeed", "/calendar/feed").annotateContext(
      docs("Revoke the calendar feed", "The feed URL stops working: it answers 404 from now on.")
    ).addSuccess(Schema.Void, { status: 204 })
  )
  .add(
    HttpApiEndpoint.post("addExternal", "/calendar/external").annotateContext(
      docs(
        "Add an external calendar",
        "Registers an http(s) or webcal ICS feed whose busy times block bookings, and queues its first sync. At most 10 per therapist, each URL once (409 otherwise)."
      )
    )
      .setPayload(AddExternalCalendar)
      .addSuccess(ExternalCalendar, { status: 201 })
      .addError(ExternalCalendarExists)
      .addError(TooManyExternalCalendars)
  )
  .add(
    HttpApiEndpoint.get("listExternal", "/calendar/external").annotateContext(
      docs(
        "List external calendars",
        "The signed-in therapist's external feeds, with when each last synced and why the last attempt failed, if it did."
      )
    ).addSuccess(Schema.Array(ExternalCalendar))
  )
  .add(
    HttpApiEndpoint.del("removeExternal", "/calendar/external/:id").annotateContext(
      docs(
        "Remove an external calendar",
        "Removes the external feed. Another therapist's feed is a 404."
      )
    )
      .setPath(Schema.Struct({ id: ExternalCalendarId }))
      .addSuccess(Schema.Void, { status: 204 })
      .addError(NotFound)
  )
  .middleware(Authentication)
  .annotate(OpenApi.Title, "Calendar")
  .annotate(OpenApi.Description, "The feed token, and external ICS calendars whose busy times block bookings.")
{}
