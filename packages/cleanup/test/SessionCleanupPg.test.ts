import { OutboxStore } from "@clinic/events"
import * as Repositories from "@clinic/repository/Repositories"
import * as TestDatabase from "@clinic/repository/testing/TestDatabase"
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Ref, TestClock } from "effect"
import { RemovedMedia } from "../src/AuthSessionMediaStore.js"
import { SessionCleanup } from "../src/SessionCleanup.js"
import { addMedia, bookingSetup, cleanupLayer, makeSession, makeUser, startClock } from "./fixtures.js"
import { sessionCleanupContract } from "./SessionCleanupContract.js"

sessionCleanupContract(
  "postgres",
  Layer.merge(Repositories.layerPg, OutboxStore.layerPg).pipe(Layer.provideMerge(TestDatabase.layerWithPool))
)

describe("SessionCleanup (postgres only)", () => {
  const layer = cleanupLayer(
    Layer.merge(Repositories.layerPg, OutboxStore.layerPg).pipe(Layer.provideMerge(TestDatabase.layer))
  )

  it.effect("a batch that fails inside Postgres rolls back whole: sessions and media rows stay, no file goes", () =>
    Effect.gen(function*() {
      yield* startClock
      const sql = yield* SqlClient.SqlClient
      // A media row whose delete raises, as a constraint or a lost connection would mid-statement.
      yield* sql.unsafe(`
        CREATE FUNCTION refuse_media_delete() RETURNS trigger AS $$
        BEGIN
          IF OLD.file_path = 'sessions/poison.png' THEN RAISE EXCEPTION 'media delete refused'; END IF;
          RETURN OLD;
        END $$ LANGUAGE plpgsql`)
      yield* sql.unsafe(`CREATE TRIGGER refuse_media_delete BEFORE DELETE ON auth_session_media
        FOR EACH ROW EXECUTE FUNCTION refuse_media_delete()`)
      const user = yield* makeUser()
      const first = yield* makeSession(user.id)
      const poisoned = yield* makeSession(user.id)
      yield* addMedia(first.id, "sessions/fine.png")
      yield* addMedia(poisoned.id, "sessions/poison.png")
      yield* TestClock.adjust("25 hours")

      const result = yield* (yield* SessionCleanup).cleanupInactiveSessions()
      assert.strictEqual(result.deletedSessions, 0)
      assert.match(result.error ?? "", /media delete refused|SqlError/)
      const left = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM auth_sessions`
      assert.strictEqual(left[0].n, 2)
      const media = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM auth_session_media`
      assert.strictEqual(media[0].n, 2)
      assert.deepStrictEqual(yield* Ref.get(yield* RemovedMedia), [])
    }).pipe(Effect.provide(layer)))

  const failingOutbox = cleanupLayer(
    Layer.merge(Repositories.layerPg, OutboxStore.layerPg).pipe(Layer.provideMerge(TestDatabase.layer)),
    { failingOutbox: true }
  )
  const count = (table: string) =>
    Effect.flatMap(SqlClient.SqlClient, (sql) =>
      sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql(table)}`.pipe(
        Effect.map((rows) => rows[0].n),
        Effect.orDie
      ))

  it.effect("inactive-session cleanup: a failure after the batch's writes rolls back its rows and events", () =>
    Effect.gen(function*() {
      yield* startClock
      const user = yield* makeUser()
      const idle = yield* makeSession(user.id)
      yield* makeSession(user.id)
      yield* addMedia(idle.id, "sessions/idle.png")
      yield* TestClock.adjust("25 hours")

      const result = yield* (yield* SessionCleanup).cleanupInactiveSessions()
      assert.strictEqual(result.deletedSessions, 0)
      assert.match(result.error ?? "", /connection lost after the write/)
      assert.strictEqual(yield* count("auth_sessions"), 2, "the deleted sessions are back")
      assert.strictEqual(yield* count("auth_session_media"), 1, "and their media rows")
      assert.strictEqual(yield* count("outbox_events"), 0, "the batch's events rolled back with them")
      assert.deepStrictEqual(yield* Ref.get(yield* RemovedMedia), [], "no file of an uncommitted batch goes")
    }).pipe(Effect.provide(failingOutbox)))

  it.effect("booking expiry: a failure after the batch's writes rolls back its rows and events", () =>
    Effect.gen(function*() {
      yield* startClock
      const sql = yield* SqlClient.SqlClient
      const { book } = yield* bookingSetup
      yield* book("10 minutes")
      yield* book("20 minutes")
      yield* TestClock.adjust("1 hour")

      const result = yield* (yield* SessionCleanup).expirePendingBookings
      assert.deepStrictEqual(result.expiredBookingIds, [])
      assert.match(result.error ?? "", /connection lost after the write/)
      const stored = yield* sql<{ status: string }>`SELECT status FROM bookings`
      assert.deepStrictEqual(stored.map((row) => row.status), ["pending", "pending"], "no expiry committed")
      assert.strictEqual(yield* count("outbox_events"), 0, "no booking.expired committed")
    }).pipe(Effect.provide(failingOutbox)))
})
