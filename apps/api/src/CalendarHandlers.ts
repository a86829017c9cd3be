import { ClinicApi, CurrentUser } from "@clinic/domain"
import { HttpApiBuilder, HttpMiddleware, HttpServerRequest } from "@effect/platform"
import { Effect, Layer, Option } from "effect"
import { Calendar } from "./Calendar.js"

export const CalendarLive = HttpApiBuilder.group(ClinicApi, "calendar", (handlers) =>
  Effect.gen(function*() {
    const calendar = yield* Calendar
    return handlers
      .handle("createFeed", () => Effect.flatMap(CurrentUser, ({ user }) => calendar.createFeed(user.id)))
      .handle("revokeFeed", () => Effect.flatMap(CurrentUser, ({ user }) => calendar.revokeFeed(user.id)))
      .handle("addExternal", ({ payload }) =>
        Effect.flatMap(CurrentUser, ({ user }) => calendar.addExternal(user.id, payload)))
      .handle("listExternal", () =>
        Effect.flatMap(CurrentUser, ({ user }) => calendar.listExternal(user.id)))
      .handle("removeExternal", ({ path }) =>
        Effect.flatMap(CurrentUser, ({ user }) =>
          calendar.removeExternal(user.id, path.id)))
  })).pipe(Layer.provide(Calendar.DefaultWithoutDependencies))

const FEED_PATH = "/calendar/<redacted>.ics"

/** The request's span's path and full URL without the token, over what the server recorded. */
const redactSpanUrl = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
  Effect.annotateCurrentSpan({
    "url.path": FEED_PATH,
    "url.full": Option.match(HttpServerRequest.toURL(request), {
      onNone: () => FEED_PATH,
      onSome: (url) => `${url.origin}${FEED_PATH}`
    })
  }))

/**
 * The public feed. The access log would write the token (the credential) with the URL, so it is
 * turned off for this route and a line without the token is logged instead; the request's span
 * gets the same path and URL without the token (the exporter drops full URLs anyway).
 */
export const CalendarFeedLive = HttpApiBuilder.group(ClinicApi, "calendarFeed", (handlers) =>
  Effect.gen(function*() {
    const calendar = yield* Calendar
    return handlers.handle("feed", ({ path }) =>
      Effect.zipRight(redactSpanUrl, calendar.feed(path.file)).pipe(
        Effect.tapBoth({
          onFailure: () => Effect.logInfo("calendar feed refused").pipe(Effect.annotateLogs("http.status", 404)),
          onSuccess: () => Effect.logInfo("calendar feed sent").pipe(Effect.annotateLogs("http.status", 200))
        }),
        Effect.annotateLogs({ "http.method": "GET", "http.url": FEED_PATH }),
        HttpMiddleware.withLoggerDisabled
      ))
  })).pipe(Layer.provide(Calendar.DefaultWithoutDependencies))
