import { type ExternalCalendar, ExternalCalendarId, UserId } from "@clinic/domain"
import { Backoff, type Registry, Task } from "@clinic/queue"
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
  /** Feeds fetched at once by one run. */
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

export interface SyncSummary {
  readonly feeds: number
  readonly synced: number
  readonly failed: number
  readonly busyTimes: number
}

/** `webcal://` is the same resource over https. */
export const fetchUrl = (url: string): string => url.replace(/^webcal:\/\//i, "https://")

/** The host only: a feed URL often carries a secret token in its path. */
const hostOf = (url: string) => {
  try {
    return new URL(fetchUrl(url)).host
  } catch {
    return "invalid-url"
  }
}

/**
 * Imports therapists' external ICS feeds: fetches each over HTTP (timeout, size limit), reads its
 * busy times up to the horizon and replaces the feed's previous import in one transaction. A feed
 * that fails keeps its previous import and records why.
 */
export class ExternalCalendarSync extends Effect.Service<ExternalCalendarSync>()(
  "@clinic/calendar/ExternalCalendarSync",
  {
    effect: Effect.gen(function*() {
      const config = yield* CalendarSyncConfig
      const repo = yield* ExternalCalendarRepo
      const sql = yield* SqlClient.SqlClient
      const client = yield* HttpClient.HttpClient

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
            Effect.mapError((error) =>
              error._tag === "RequestError" && error.cause instanceof PrivateAddressRefused
                ? fail(calendar.id, "forbidden", error.cause.message)
                : error
            )
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
            RequestError: (error) => Effect.fail(fail(calendar.id, "unreachable", error.message)),
            ResponseError: (error) => Effect.fail(fail(calendar.id, "unreachable", error.message))
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

      /** Every feed, a few at a time; one broken feed does not stop the others. */
      const syncAll: Effect.Effect<SyncSummary> = Effect.gen(function*() {
        const calendars = yield* repo.listAll
        const results = yield* Effect.forEach(calendars, (calendar) => Effect.either(syncOne(calendar)), {
          concurrency: config.concurrency
        })
        const synced = results.filter(Either.isRight)
        return {
          feeds: calendars.length,
          synced: synced.length,
          failed: results.length - synced.length,
          busyTimes: synced.reduce((n, result) => n + result.right, 0)
        }
      }).pipe(Effect.withSpan("ExternalCalendarSync.syncAll"))

      /** One feed of a therapist, e.g. right after it was added; nothing if it was removed since. */
      const syncFeed = (therapistId: UserId, id: ExternalCalendarId) =>
        Effect.flatMap(repo.list(therapistId), (own) => {
          const calendar = own.find((c) => c.id === id)
          return calendar ? Effect.asVoid(syncOne(calendar)) : Effect.void
        })

      return { syncOne, syncAll, syncFeed } as const
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

/** The plain Effect a scheduler job can run: imports every feed, returns counts. */
export const syncExternalCalendars: Effect.Effect<SyncSummary, never, ExternalCalendarSync> = Effect.flatMap(
  ExternalCalendarSync,
  (sync) => sync.syncAll
)

export const CALENDAR_QUEUE = "calendar"

/** The queue the task runs on; one run at a time is plenty (each run fetches feeds concurrently). */
export const calendarQueue: Registry.QueueConfig = { name: CALENDAR_QUEUE, concurrency: 1 }

/**
 * The durable task: one run imports every feed. Broken feeds are recorded, not retried here: the
 * next periodic run tries them again.
 */
export const syncExternalCalendarsTask = Task.make({
  name: "calendar.sync-external",
  payload: Schema.Struct({}),
  queue: CALENDAR_QUEUE,
  maxAttempts: 3,
  backoff: Backoff.make({ base: "30 seconds", max: "5 minutes" }),
  timeout: "10 minutes",
  handler: () => Effect.asVoid(syncExternalCalendars)
})

/**
 * One feed now (enqueue it when a feed is added, so its busy times apply before the next periodic
 * run). A broken feed fails the task, which retries it a few times.
 */
export const syncExternalCalendarTask = Task.make({
  name: "calendar.sync-feed",
  payload: Schema.Struct({ therapistId: UserId, calendarId: ExternalCalendarId }),
  queue: CALENDAR_QUEUE,
  maxAttempts: 3,
  backoff: Backoff.make({ base: "1 minute", max: "10 minutes" }),
  timeout: "2 minutes",
  handler: ({ calendarId, therapistId }) =>
    Effect.flatMap(ExternalCalendarSync, (sync) => sync.syncFeed(therapistId, calendarId))
})

/** The periodic ("beat") entry that enqueues the sync; register it with the task in the registry. */
export const syncExternalCalendarsEntry = (every: Duration.DurationInput = "15 minutes"): Registry.PeriodicEntry => ({
  name: "calendar-external-sync",
  task: syncExternalCalendarsTask.name,
  every,
  payload: {}
})
