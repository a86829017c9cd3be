import type { BookingId, DomainEvent, NotFound, UserId } from "@clinic/domain"
import { ExpiredBookingPreview, InactiveSessionPreview } from "@clinic/domain"
import { EventBus, OutboxStore } from "@clinic/events"
import { withMethodSpans } from "@clinic/foundation"
import { AuthSessionRepo, BookingRepo, type DeletedSessions, SessionSelector, UserRepo } from "@clinic/repository"
import { SqlClient } from "@effect/sql"
import { Cause, Clock, DateTime, Duration, Effect, Schema } from "effect"
import { AuthSessionMediaStore } from "./AuthSessionMediaStore.js"
import { CleanupConfig } from "./CleanupConfig.js"

/** A cleanup that stopped on an error; what earlier batches committed stays committed. */
export class CleanupFailed extends Schema.TaggedError<CleanupFailed>()("CleanupFailed", {
  operation: Schema.String,
  message: Schema.String
}) {}

export interface SessionCleanupResult {
  readonly deletedSessions: number
  readonly deletedMedia: number
  /** Media files removed from disk (after their rows were committed as deleted). */
  readonly removedFiles: number
  /**
   * Files of deleted media rows that could not be removed (refused or failing); each is logged
   * with its path. The rows stay deleted: the files are left for an operator, not retried.
   */
  readonly failedFiles: number
  readonly userId?: UserId
  /** False when the run stopped on its time budget with rows left for the next run. */
  readonly complete: boolean
  /** Set when the run failed; the counts are what committed before the failure. */
  readonly error?: string
}

export interface BookingExpiryResult {
  readonly expiredBookingIds: ReadonlyArray<BookingId>
  readonly complete: boolean
  readonly error?: string
}

/** What one batch's transaction should take at most; well under the 200 ms bound on a lock. */
const BATCH_TARGET_MILLIS = 100
/** However fast the database, a batch's ids and events stay a bounded amount of memory. */
const MAX_BATCH_SIZE = 32_000

const describe = (cause: Cause.Cause<unknown>) => Cause.pretty(cause).split("\n")[0] ?? "unknown error"

/**
 * The cleanup that keeps the database honest: expired and idle auth sessions (with their media
 * rows and files) and lapsed booking holds; and, on an operator's request, every auth session of
 * one user. Work runs in batches ordered by an indexed column; each batch is one statement plus
 * its domain events (`auth_session.expired` per deleted session,
 * idle or expired; `booking.expired` per lapsed hold), in one short transaction, and a run starts
 * no batch after its time budget. Failures are logged with their cause and carried in the result; interruption is not
 * caught, so a stopping scheduler stops the run between (or inside, rolled back) batches.
 */
export class SessionCleanup extends Effect.Service<SessionCleanup>()("@clinic/cleanup/SessionCleanup", {
  effect: Effect.gen(function*() {
    const sessions = yield* AuthSessionRepo
    const users = yield* UserRepo
    const bookings = yield* BookingRepo
    const media = yield* AuthSessionMediaStore
    const config = yield* CleanupConfig
    const outbox = yield* OutboxStore
    const sql = yield* SqlClient.SqlClient
    /**
     * One batch is one unit of work: its statement and the events it yields commit together or
     * not at all (memory: the identity). A failed BEGIN/COMMIT is a defect like any SqlError.
     */
    const withEvents = <A>(batch: Effect.Effect<A>, events: (a: A) => ReadonlyArray<DomainEvent>) =>
      batch.pipe(
        Effect.tap((a) => EventBus.publishAll(events(a))),
        Effect.provideService(OutboxStore, outbox),
        sql.withTransaction,
        Effect.catchTag("SqlError", Effect.die)
      )

    /**
     * Runs `batch` until it returns fewer rows than it was asked for or the budget is spent. The
     * batch size follows the time a batch takes: it starts at the configured size, doubles while
     * a batch (one transaction) stays under a quarter of `BATCH_TARGET`, and halves when one takes
     * longer than the target, below the configured size too (a slow disk or a busy database makes
     * 1,000 rows take over 200 ms), so that no transaction nears the 200 ms bound whatever the
     * disk, while a large backlog is deleted in few statements.
     */
    const drain = <B>(
      batch: (limit: number) => Effect.Effect<B>,
      size: (b: B) => number,
      onBatch: (b: B) => Effect.Effect<void>
    ) =>
      Effect.gen(function*() {
        const started = yield* Clock.currentTimeMillis
        const budget = Duration.toMillis(config.timeBudget)
        let limit = config.batchSize
        while (true) {
          const batchStarted = yield* Clock.currentTimeMillis
          const result = yield* batch(limit)
          const took = (yield* Clock.currentTimeMillis) - batchStarted
          yield* onBatch(result)
          if (size(result) < limit) return true
          if ((yield* Clock.currentTimeMillis) - started >= budget) {
            yield* Effect.logWarning("cleanup stopped on its time budget; the next run continues")
            return false
          }
          limit = took < BATCH_TARGET_MILLIS / 4
            ? Math.min(limit * 2, MAX_BATCH_SIZE)
            : took > BATCH_TARGET_MILLIS
            ? Math.max(Math.floor(limit / 2), 1)
            : limit
        }
      })

    /** Turns any failure but interruption into the result's error, logging the cause. */
    const recover =
      <A>(operation: string, partial: () => A, withError: (a: A, error: string) => A) =>
      (self: Effect.Effect<A>): Effect.Effect<A> =>
        Effect.catchAllCause(self, (cause) =>
          Cause.isInterruptedOnly(cause)
            ? Effect.failCause(cause as Cause.Cause<never>)
            : Effect.logError(`${operation} failed`, cause).pipe(
              Effect.as(withError(partial(), describe(cause)))
            ))

    /** Deletes what `batch` picks (at most a batch per call) until it picks less than a batch. */
    const deleteSessions = (
      operation: string,
      batch: (now: DateTime.Utc, limit: number) => Effect.Effect<DeletedSessions>,
      userId?: UserId
    ) =>
      Effect.suspend(() => {
        let totals = { deletedSessions: 0, deletedMedia: 0, removedFiles: 0, failedFiles: 0 }
        const result = (complete: boolean): SessionCleanupResult => ({
          ...totals,
          complete,
          ...(userId ? { userId } : {})
        })
        return Effect.gen(function*() {
          const now = yield* DateTime.now
          const complete = yield* drain(
            (limit) =>
              withEvents(
                batch(now, limit),
                (deleted) =>
                  deleted.sessions.map((session) => ({
                    _tag: "auth_session.expired" as const,
                    authSessionId: session.id,
                    userId: session.userId
                  }))
              ),
            (deleted: DeletedSessions) => deleted.sessionIds.length,
            (deleted) =>
              Effect.gen(function*() {
                // The batch's statement has committed: only now may its files go.
                const removal = deleted.mediaPaths.length > 0
                  ? yield* media.remove(deleted.mediaPaths)
                  : { removed: [], failed: [] }
                if (removal.failed.length > 0) {
                  yield* Effect.logWarning(`${operation}: media files could not be removed`).pipe(
                    Effect.annotateLogs({ paths: removal.failed.join(", "), count: removal.failed.length })
                  )
                }
                totals = {
                  deletedSessions: totals.deletedSessions + deleted.sessionIds.length,
                  deletedMedia: totals.deletedMedia + deleted.deletedMedia,
                  removedFiles: totals.removedFiles + removal.removed.length,
                  failedFiles: totals.failedFiles + removal.failed.length
                }
              })
          )
          if (totals.deletedSessions > 0) {
            yield* Effect.logInfo(`${operation}: sessions deleted`).pipe(Effect.annotateLogs(totals))
          }
          return result(complete)
        }).pipe(
          recover(operation, () => result(false), (r, error) => ({ ...r, error }))
        )
      })

    const bySelector = (selector: (now: DateTime.Utc) => SessionSelector) => (now: DateTime.Utc, limit: number) =>
      sessions.deleteBatch(selector(now), limit)

    const expiredSessions = deleteSessions(
      "cleanupExpiredSessions",
      bySelector((now) => SessionSelector.Expired({ now }))
    )

    const inactiveBefore = (olderThan: Duration.DurationInput) => (now: DateTime.Utc) =>
      DateTime.subtractDuration(now, Duration.decode(olderThan))

    const cleanupInactiveSessions = (olderThan: Duration.DurationInput = config.inactiveAfter) =>
      deleteSessions(
        "cleanupInactiveSessions",
        bySelector((now) => SessionSelector.Inactive({ before: inactiveBefore(olderThan)(now) }))
      )

    const endUserAuthSessions = (userId: UserId) =>
      deleteSessions(
        "endUserAuthSessions",
        (_now, limit) =>
          Effect.flatMap(
            sessions.listByUser(userId),
            (own) => sessions.deleteByIds(own.slice(0, limit).map((session) => session.id))
          ),
        userId
      )

    const expirePendingBookings = Effect.suspend(() => {
      let expired: Array<BookingId> = []
      return Effect.gen(function*() {
        const now = yield* DateTime.now
        const complete = yield* drain(
          (limit) =>
            withEvents(bookings.expireLapsedHolds(now, limit), (lapsed) =>
              lapsed.map((booking) => ({
                _tag: "booking.expired" as const,
                bookingId: booking.id,
                therapistId: booking.therapistId,
                patientId: booking.patientId,
                startsAt: booking.startsAt,
                endsAt: booking.endsAt
              }))),
          (lapsed) => lapsed.length,
          (lapsed) => Effect.sync(() => void (expired = [...expired, ...lapsed.map((b) => b.id)]))
        )
        if (expired.length > 0) {
          yield* Effect.logInfo("expirePendingBookings: holds expired").pipe(
            Effect.annotateLogs({ count: expired.length })
          )
        }
        return { expiredBookingIds: expired, complete } as BookingExpiryResult
      }).pipe(
        recover(
          "expirePendingBookings",
          (): BookingExpiryResult => ({ expiredBookingIds: expired, complete: false }),
          (r, error) => ({ ...r, error })
        )
      )
    })

    const failOnError = <R extends { readonly error?: string }>(operation: string) => (result: R) =>
      result.error === undefined
        ? Effect.succeed(result)
        : Effect.fail(new CleanupFailed({ operation, message: result.error }))

    return {
      /** Deletes sessions past `expires_at`, with their media; the count, 0 when the run failed. */
      cleanupExpiredSessions: Effect.map(expiredSessions, (r) => (r.error === undefined ? r.deletedSessions : 0)),
      /** The same run with its full result, failing when it failed: what a scheduled job records. */
      expiredSessions: Effect.flatMap(expiredSessions, failOnError("cleanupExpiredSessions")),
      cleanupInactiveSessions,
      /**
       * Ends every auth session of the user now (signed out everywhere), with their media rows
       * and files, publishing `auth_session.expired` for each; fails when the user does not exist.
       */
      endUserAuthSessions: (userId: UserId): Effect.Effect<SessionCleanupResult, NotFound | CleanupFailed> =>
        users.findById(userId).pipe(
          Effect.zipRight(endUserAuthSessions(userId)),
          Effect.flatMap(failOnError("endUserAuthSessions"))
        ),
      expirePendingBookings,
      expirePendingBookingsOrFail: Effect.flatMap(expirePendingBookings, failOnError("expirePendingBookings")),
      previewInactiveSessions: (
        options: { readonly olderThan?: Duration.DurationInput; readonly limit?: number } = {}
      ) =>
        Effect.gen(function*() {
          const now = yield* DateTime.now
          const before = inactiveBefore(options.olderThan ?? config.inactiveAfter)(now)
          const found = yield* sessions.list(SessionSelector.Inactive({ before }), options.limit ?? 100)
          return found.map((s) =>
            new InactiveSessionPreview({
              sessionId: s.id,
              userId: s.userId,
              lastActiveAt: s.lastActiveAt,
              idleSeconds: Math.floor(DateTime.distance(s.lastActiveAt, now) / 1000)
            })
          )
        }),
      previewExpiredBookings: (options: { readonly limit?: number } = {}) =>
        Effect.gen(function*() {
          const now = yield* DateTime.now
          const found = yield* bookings.listLapsedHolds(now, options.limit ?? 100)
          return found.flatMap((b) =>
            b.holdExpiresAt === null ? [] : [
              new ExpiredBookingPreview({
                bookingId: b.id,
                therapistId: b.therapistId,
                patientId: b.patientId,
                holdExpiresAt: b.holdExpiresAt,
                overdueSeconds: Math.floor(DateTime.distance(b.holdExpiresAt, now) / 1000)
              })
            ]
          )
        })
    } as const
  }).pipe(withMethodSpans("SessionCleanup"))
}) {}
