import { enqueueFeedSync } from "@clinic/calendar/ExternalCalendarSync"
import { renderFeed } from "@clinic/calendar/ICalendar"
import type { AddExternalCalendar, ExternalCalendarId, NotFound, UserId } from "@clinic/domain"
import { CalendarFeedCreated, MAX_EXTERNAL_CALENDARS, notFound } from "@clinic/domain"
import { withMethodSpans } from "@clinic/foundation"
import { TaskStore } from "@clinic/queue"
import { BookingRepo, CalendarFeedRepo, ExternalCalendarRepo, UserRepo } from "@clinic/repository"
import { SqlClient } from "@effect/sql"
import { DateTime, Effect, Option } from "effect"
import { ApiConfig } from "./ApiConfig.js"
import * as Tokens from "./auth/Tokens.js"

/** The feed shows bookings from this far back... */
const FEED_PAST = { days: 30 } as const
/** ...to this far ahead, at most this many. */
const FEED_FUTURE = { days: 366 } as const
const FEED_MAX_BOOKINGS = 2000

const FEED_SUFFIX = ".ics"

/**
 * A therapist's private iCalendar feed and external calendars. The feed token is the credential
 * of `GET /calendar/<token>.ics`; only its SHA-256 is stored, so the URL is shown once when made.
 */
export class Calendar extends Effect.Service<Calendar>()("@clinic/api/Calendar", {
  effect: Effect.gen(function*() {
    const feeds = yield* CalendarFeedRepo
    const externals = yield* ExternalCalendarRepo
    const bookings = yield* BookingRepo
    const users = yield* UserRepo
    const tasks = yield* TaskStore
    const sql = yield* SqlClient.SqlClient
    const { publicUrl } = yield* ApiConfig

    const createFeed = Effect.fn("Calendar.createFeed")(function*(therapistId: UserId) {
      const token = Tokens.generate()
      const { createdAt } = yield* feeds.replace(therapistId, Tokens.hash(token))
      const path = `/calendar/${token}${FEED_SUFFIX}`
      yield* Effect.logInfo("calendar feed token made").pipe(Effect.annotateLogs({ therapistId }))
      return new CalendarFeedCreated({ url: `${publicUrl}${path}`, path, createdAt })
    })

    const revokeFeed = Effect.fn("Calendar.revokeFeed")(function*(therapistId: UserId) {
      const revoked = yield* feeds.revoke(therapistId)
      if (revoked) yield* Effect.logInfo("calendar feed token revoked").pipe(Effect.annotateLogs({ therapistId }))
    })

    /** The feed for `<token>.ics`; anything else, or a token no one holds, is the same 404. */
    const feed = (file: string): Effect.Effect<string, NotFound> =>
      Effect.gen(function*() {
        const missing = notFound("CalendarFeed", "(token)")
        if (!file.endsWith(FEED_SUFFIX)) return yield* Effect.fail(missing)
        const token = file.slice(0, -FEED_SUFFIX.length)
        const therapistId = yield* feeds.findTherapist(Tokens.hash(token))
        if (Option.isNone(therapistId)) return yield* Effect.fail(missing)
        const therapist = yield* users.findById(therapistId.value).pipe(Effect.mapError(() => missing))
        const now = yield* DateTime.now
        const rows = yield* bookings.list(therapist.id, {
          from: DateTime.subtract(now, FEED_PAST),
          to: DateTime.add(now, FEED_FUTURE),
          limit: FEED_MAX_BOOKINGS
        })
        // Lapsed holds were never appointments; cancelled ones stay (STATUS:CANCELLED) so that
        // subscribed calendars see the change. Summaries name no patient: feeds end up in
        // third-party calendar services, and a name there would disclose who is in therapy.
        const entries = rows
          .filter((booking) => booking.status !== "expired")
          .map((booking) => ({
            booking,
            summary: booking.status === "pending" ? "Clinic session (unconfirmed)" : "Clinic session"
          }))
        return renderFeed({ name: `Clinic: ${therapist.name}`, now, includeInactive: true }, entries)
      })

    /** The feed and its first sync (`calendar.sync-feed`, run by the scheduler) commit together. */
    const addExternal = (therapistId: UserId, input: AddExternalCalendar) =>
      externals.add({ therapistId, url: input.url, label: input.label ?? null }, MAX_EXTERNAL_CALENDARS).pipe(
        // The limit check, the insert and the first sync are one unit of work (the owner's row lock
        // lasts till commit; the sync task exists exactly when the feed does).
        Effect.tap((calendar) => Effect.provideService(enqueueFeedSync(calendar), TaskStore, tasks)),
        sql.withTransaction,
        Effect.catchTag("SqlError", Effect.die),
        Effect.tap((calendar) =>
          Effect.logInfo("external calendar added").pipe(
            Effect.annotateLogs({ therapistId, calendarId: calendar.id })
          )
        )
      )

    const listExternal = (therapistId: UserId) => externals.list(therapistId)

    const removeExternal = (therapistId: UserId, id: ExternalCalendarId) => externals.remove(therapistId, id)

    return { createFeed, revokeFeed, feed, addExternal, listExternal, removeExternal } as const
  }).pipe(withMethodSpans("Calendar")),
  dependencies: [ApiConfig.Default]
}) {}
