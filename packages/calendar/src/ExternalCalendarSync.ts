import { type ExternalCalendar, ExternalCalendarId, UserId } from "@clinic/domain"
import { Backoff, type Registry, Task, TaskQueue, type TaskStore } from "@clinic/queue"
import { ExternalCalendarRepo } from "@clinic/repository"
import { HttpClient, type HttpClientError, HttpClientRequest, type HttpClientResponse } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { Chunk, Config, DateTime, Duration, Effect, Either, Layer, Schema, type Scope, Stream } from "effect"
import { clientLayer, PrivateAddressRefused } from "./FeedAddress.js"
import { parseBusy } from "./IcsImport.js"

const settings = Config.all({
  /** The whole fetch (connect, headers, body). */
  timeout: Config.duration("CALENDAR_SYNC_TIMEOUT").pipe(Config.withDefault(Duration.seconds(15))),
  maxBytes: Config.integer("CALENDAR_SYNC_MAX_BYTES").pipe(
    Config.validate({ message: "CALENDAR_SYNC_MAX_BYTES must be positive", validation: (n) => n > 0 }),
    Config.withDefault(5 * 1024 * 1024)
  ),
  /** How far ahead recurring events are expanded; busy times beyond it do not block bookings. */
  horizon: Config.duration("CALENDAR_SYNC_HORIZON").pipe(Config.withDefault(Duration.days(60))),
  maxIntervals: Config.integer("CALENDAR_SYNC_MAX_EVENTS").pipe(
    Config.validate({ message: "CALENDAR_SYNC_MAX_EVENTS must be positive", validation: (n) => n > 0 }),
    Config.withDefault(10_000)
  ),
  /** Feeds synced at once by one scheduler replica: the `calendar` queue's concurrency. */
  concurrency: Config.integer("CALENDAR_SYNC_CONCURRENCY").pipe(
    Config.validate({ message: "CALENDAR_SYNC_CONCURRENCY must be at least 1", validation: (n) => n >= 1 }),
    Config.withDefault(4)
  ),
  /** Lets feed URLs reach loopback and private networks (tests, a calendar server on the LAN). */
  allowPrivateNetworks: Config.boolean("CALENDAR_SYNC_ALLOW_PRIVATE_NETWORKS").pipe(Config.withDefault(false))
})

export type CalendarSyncSettings = Config.Config.Success<typeof settings>

/** Limits of one fetch and import, read once; the defaults suit hosted calendars. */
export class CalendarSyncConfig extends Effect.Service<CalendarSyncConfig>()("@clinic/calendar/CalendarSyncConfig", {
  effect: settings
}) {
  /** For `Settings.layer`, which loads it together with the other config services of the app. */
  static readonly load = Effect.map(settings, (values) => CalendarSyncConfig.make(values))

  /** The configured settings with some replaced (tests). */
  static readonly layerWith = (overrides: Partial<CalendarSyncSettings>) =>
    Layer.effect(
      CalendarSyncConfig,
      Effect.map(settings, (defaults) => CalendarSyncConfig.make({ ...defaults, ...overrides }))
    )
}

/** Why a feed could not be imported; its previous import stays in force. */
export class ExternalCalendarSyncError extends Schema.TaggedError<ExternalCalendarSyncError>()(
  "ExternalCalendarSyncError",
  {
    calendarId: Schema.String,
    reason: Schema.Literal("forbidden", "unreachable", "timeout", "status", "too-large", "invalid"),
    message: Schema.String
  }
) {}

/** `webcal://` is the same resource over https. */
export const fetchUrl = (url: string): string => url.replace(/^webcal:\/\//i, "https://")

/** What a span says of a feed's path: private feed URLs carry their token in it. */
export const REDACTED_FEED_PATH = "<redacted>"

/** A failed request without its URL (the platform's message ends with the whole URL). */
const withoutUrl = (error: HttpClientError.HttpClientError) =>
  error.description === undefined ? `${error.reason} error` : `${error.reason}: ${error.description}`

/** The host only: a feed URL often carries a secret token in its path. */
const hostOf = (url: string) => {
  try {
    return new URL(fetchUrl(url)).host
  } catch {
    return "invalid-url"
  }
}

/**
 * Imports a therapist's external ICS feed: fetches it over HTTP (timeout, size limit), reads its
 * busy times up to the horizon and replaces the feed's previous import in one transaction. A feed
 * that fails keeps its previous import and records why. Feeds are synced one task each
 * (`syncFeedTask`), whoever asks: the periodic job and the API when a feed is added.
 */
export class ExternalCalendarSync extends Effect.Service<ExternalCalendarSync>()(
  "@clinic/calendar/ExternalCalendarSync",
  {
    effect: Effect.gen(function*() {
      const config = yield* CalendarSyncConfig
      const repo = yield* ExternalCalendarRepo
      const sql = yield* SqlClient.SqlClient
      // The platform's span of a request records its whole URL, so feed requests get a span of
      // their own instead, with the path redacted (and no trace context is sent to feed hosts).
      const client = (yield* HttpClient.HttpClient).pipe(HttpClient.withTracerDisabledWhen(() => true))

      const fail = (calendarId: string, reason: ExternalCalendarSyncError["reason"], message: string) =>
        new ExternalCalendarSyncError({ calendarId, reason, message })

      /** Redirects are followed by hand (at most this many), so that each hop is checked. */
      const MAX_REDIRECTS = 3

      const request = (calendar: ExternalCalendar, url: string, hops: number): Effect.Effect<
        HttpClientResponse.HttpClientResponse,
        ExternalCalendarSyncError | HttpClientError.HttpClientError,
        Scope.Scope
      > =>
        Effect.gen(function*() {
          const target = yield* Effect.try({
            try: () => new URL(url),
            catch: () => fail(calendar.id, "invalid", "the feed URL is not a valid URL")
          })
          if (target.protocol !== "http:" && target.protocol !== "https:") {
            return yield* fail(calendar.id, "forbidden", `the scheme ${target.protocol} is not fetched`)
          }
          // The client refuses private addresses as it connects (`FeedAddress.clientLayer`).
          const response = yield* client.execute(
            HttpClientRequest.get(target).pipe(
              HttpClientRequest.setHeader("accept", "text/calendar, text/plain;q=0.5")
            )
          ).pipe(
            Effect.tap((response) => Effect.annotateCurrentSpan("http.response.status_code", response.status)),
            // Mapped inside the span, which would otherwise end with the platform's message (and URL).
            Effect.mapError((error) =>
              error._tag === "RequestError" && error.cause instanceof PrivateAddressRefused
                ? fail(calendar.id, "forbidden", error.cause.message)
                : fail(calendar.id, "unreachable", withoutUrl(error))
            ),
            Effect.withSpan("http.client GET", {
              kind: "client",
              attributes: {
                "http.request.method": "GET",
                "server.address": target.hostname,
                "url.scheme": target.protocol.slice(0, -1),
                "url.path": REDACTED_FEED_PATH
              }
            })
          )
          const location = response.headers["location"]
          if (response.status >= 300 && response.status < 400 && location !== undefined) {
            if (hops >= MAX_REDIRECTS) return yield* fail(calendar.id, "status", "too many redirects")
            return yield* request(calendar, new URL(location, target).toString(), hops + 1)
          }
          return response
        })

      const download = (calendar: ExternalCalendar) =>
        Effect.gen(function*() {
          const response = yield* request(calendar, fetchUrl(calendar.url), 0)
          if (response.status < 200 || response.status >= 300) {
            return yield* fail(calendar.id, "status", `the server answered HTTP ${response.status}`)
          }
          const declared = Number(response.headers["content-length"])
          const tooLarge = fail(calendar.id, "too-large", `the feed is larger than ${config.maxBytes} bytes`)
          if (Number.isFinite(declared) && declared > config.maxBytes) return yield* tooLarge
          // Counted while streaming: a missing or lying Content-Length does not get past the limit.
          const chunks = yield* response.stream.pipe(
            Stream.mapAccumEffect(0, (total, chunk) => {
              const next = total + chunk.length
              return next > config.maxBytes ? Effect.fail(tooLarge) : Effect.succeed([next, chunk] as const)
            }),
            Stream.runCollect
          )
          const body = new Uint8Array(Chunk.reduce(chunks, 0, (n, chunk) => n + chunk.length))
          let offset = 0
          for (const chunk of chunks) {
            body.set(chunk, offset)
            offset += chunk.length
          }
          return new TextDecoder("utf-8").decode(body)
        }).pipe(
          Effect.scoped,
          Effect.catchTags({
            RequestError: (error) => Effect.fail(fail(calendar.id, "unreachable", withoutUrl(error))),
            ResponseError: (error) => Effect.fail(fail(calendar.id, "unreachable", withoutUrl(error)))
          }),
          Effect.timeoutFail({
            duration: config.timeout,
            onTimeout: () =>
              fail(calendar.id, "timeout", `no complete answer within ${Duration.format(config.timeout)}`)
          })
        )

      /** Imports one feed; on failure records it and fails with the reason. */
      const syncOne = Effect.fn("ExternalCalendarSync.syncOne")(function*(calendar: ExternalCalendar) {
        const now = yield* DateTime.now
        const imported = yield* download(calendar).pipe(
          Effect.flatMap((text) =>
            Either.match(
              parseBusy(text, {
                from: now,
                to: DateTime.addDuration(now, config.horizon),
                maxIntervals: config.maxIntervals
              }),
              {
                onLeft: (problem) => Effect.fail(fail(calendar.id, "invalid", problem)),
                onRight: Effect.succeed
              }
            )
          ),
          Effect.tapError((error) =>
            Effect.zipRight(
              repo.recordFailure(calendar.id, `${error.reason}: ${error.message}`.slice(0, 1000)),
              Effect.logWarning("external calendar import failed").pipe(
                Effect.annotateLogs({ reason: error.reason, error: error.message })
              )
            )
          )
        )
        // One unit of work: readers see the previous import or the new one, never half of each.
        const stored = yield* repo.replaceBusy(calendar.id, imported).pipe(
          sql.withTransaction,
          Effect.catchTag("SqlError", Effect.die)
        )
        yield* Effect.logInfo(stored ? "external calendar imported" : "external calendar removed during import")
          .pipe(Effect.annotateLogs({ busyTimes: imported.length }))
        return imported.length
      }, (effect, calendar) =>
        Effect.annotateLogs(effect, {
          service: "calendar-sync",
          calendarId: calendar.id,
          therapistId: calendar.therapistId,
          host: hostOf(calendar.url)
        }))

      /** One feed of a therapist by id; nothing if it was removed since it was asked for. */
      const syncFeed = (therapistId: UserId, id: ExternalCalendarId) =>
        Effect.flatMap(repo.list(therapistId), (own) => {
          const calendar = own.find((c) => c.id === id)
          return calendar ? Effect.asVoid(syncOne(calendar)) : Effect.void
        }).pipe(Effect.withSpan("ExternalCalendarSync.syncFeed"))

      return { syncOne, syncFeed } as const
    }),
    dependencies: [CalendarSyncConfig.Default]
  }
) {
  /**
   * With the guarded feed client (`FeedAddress.clientLayer`); needs `ExternalCalendarRepo` and
   * `CalendarSyncConfig` (which the app loads at its root with its other settings).
   */
  static readonly layer = ExternalCalendarSync.DefaultWithoutDependencies.pipe(
    Layer.provide(
      Layer.unwrapEffect(Effect.map(CalendarSyncConfig, (config) => clientLayer(config.allowPrivateNetworks)))
    )
  )
}

export const CALENDAR_QUEUE = "calendar"

/** The queue feed syncs run on, as many at once per replica as `CALENDAR_SYNC_CONCURRENCY`. */
export const calendarQueue: Effect.Effect<Registry.QueueConfig, never, CalendarSyncConfig> = Effect.map(
  CalendarSyncConfig,
  (config) => ({ name: CALENDAR_QUEUE, concurrency: config.concurrency })
)

/**
 * The one way a feed is synced. A broken feed fails the task, which retries it a few times
 * within the sync period (a feed just added may be briefly unreachable); its failure is recorded
 * on the feed either way, and the next periodic run tries it again.
 */
export const syncFeedTask = Task.make({
  name: "calendar.sync-feed",
  payload: Schema.Struct({ therapistId: UserId, calendarId: ExternalCalendarId }),
  queue: CALENDAR_QUEUE,
  maxAttempts: 3,
  backoff: Backoff.make({ base: "1 minute", max: "5 minutes" }),
  timeout: "2 minutes",
  handler: ({ calendarId, therapistId }) =>
    Effect.flatMap(ExternalCalendarSync, (sync) => sync.syncFeed(therapistId, calendarId))
})

/**
 * Queues a sync of `calendar`. On Postgres it joins the caller's transaction, so a feed added
 * in `sql.withTransaction` is synced exactly when its row commits.
 */
export const enqueueFeedSync = (
  calendar: Pick<ExternalCalendar, "id" | "therapistId">,
  options: TaskQueue.EnqueueOptions = {}
): Effect.Effect<TaskQueue.Enqueued, never, TaskStore> =>
  TaskQueue.enqueue(syncFeedTask, { therapistId: calendar.therapistId, calendarId: calendar.id }, options)

/**
 * What the periodic sync does on its tick: one `calendar.sync-feed` per feed, keyed by feed and
 * tick, so a tick run again (a replica taking over a crashed run) queues nothing twice.
 */
export const enqueueFeedSyncs = (
  tick: DateTime.Utc
): Effect.Effect<{ readonly feeds: number; readonly enqueued: number }, never, ExternalCalendarRepo | TaskStore> =>
  Effect.gen(function*() {
    const calendars = yield* Effect.flatMap(ExternalCalendarRepo, (repo) => repo.listAll)
    const results = yield* Effect.forEach(calendars, (calendar) =>
      enqueueFeedSync(calendar, {
        runAt: tick,
        idempotencyKey: `${syncFeedTask.name}:${calendar.id}:${DateTime.formatIso(tick)}`
      }))
    return { feeds: calendars.length, enqueued: results.filter((r) => r.inserted).length }
  }).pipe(Effect.withSpan("ExternalCalendarSync.enqueueFeedSyncs"))
