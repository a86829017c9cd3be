import { OutboxStore } from "@clinic/events"
import * as Repositories from "@clinic/repository/Repositories"
import * as TestDatabase from "@clinic/repository/testing/TestDatabase"
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Ref, TestClock } from "effect"
import { RemovedMedia } from "../src/MediaStore.js"
import { SessionCleanup } from "../src/SessionCleanup.js"
import { addMedia, cleanupLayer, makeSession, makeUser, startClock } from "./fixtures.js"
import { sessionCleanupContract } from "./SessionCleanupContract.js"

sessionCleanupContract(
  "postgres",
  Layer.merge(Repositories.layerPg, OutboxStore.layerPg).pipe(Layer.provideMerge(TestDatabase.layer))
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
})
