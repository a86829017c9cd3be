import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import Pg from "pg"
import { inject } from "vitest"
import { adminApplicationName, freshDatabase } from "../src/testing/TestDatabase.js"
import { query, withClient } from "../src/testing/TestServer.js"

/**
 * Test databases are recycled (a released one is emptied and handed to the next test), so what
 * one test leaves behind must never reach another. The next test gets the database released last
 * (a stack), which is what lets these tests see whether one was handed on.
 */

const insertUser = (client: Pg.Client) =>
  query(
    client,
    `INSERT INTO users (id, email, name, role, password_hash, created_at)
     VALUES (gen_random_uuid(), 'left@clinic.test', 'Left', 'therapist', 'x', now())`
  )

const insertAudit = (client: Pg.Client) =>
  query(client, `INSERT INTO login_audit (at, email, outcome) VALUES (now(), 'a@clinic.test', 'failed') RETURNING id`)

const databaseOid = "SELECT oid FROM pg_database WHERE datname = current_database()"

/** Runs `use` on a database of its own, released after; the database's URL. */
const withDatabase = (use: (client: Pg.Client, url: string) => Effect.Effect<unknown>) =>
  Effect.scoped(Effect.flatMap(freshDatabase, (url) => Effect.as(withClient(url, (client) => use(client, url)), url)))

/** Connects to `url` and runs one query; how that ended. */
const reach = (url: string) => Effect.exit(withClient(url, (client) => query(client, "SELECT 1")))

describe("test databases", () => {
  it.live("a released database comes back empty, migrated and with its identities restarted, under a new name", () =>
    Effect.gen(function*() {
      let firstOid: unknown
      const first = yield* withDatabase((client) =>
        Effect.gen(function*() {
          firstOid = (yield* query(client, databaseOid)).rows[0].oid
          yield* insertUser(client)
          yield* insertAudit(client)
        })
      )
      yield* withDatabase((client, url) =>
        Effect.gen(function*() {
          assert.notStrictEqual(url, first)
          // The same database, renamed and emptied: had the reset failed, it would be a new clone.
          assert.strictEqual((yield* query(client, databaseOid)).rows[0].oid, firstOid)
          assert.deepStrictEqual((yield* query(client, "SELECT count(*)::int AS n FROM users")).rows, [{ n: 0 }])
          const migrations = yield* query(client, "SELECT count(*)::int AS n FROM effect_sql_migrations")
          assert.isAbove(migrations.rows[0].n, 0)
          assert.strictEqual(Number((yield* insertAudit(client)).rows[0].id), 1)
        })
      )
    }))

  it.live("a database whose schema a test changed is dropped, not handed on", () =>
    Effect.gen(function*() {
      const changed = yield* withDatabase((client) =>
        query(client, "CREATE FUNCTION left_behind() RETURNS int AS 'SELECT 1' LANGUAGE sql")
      )
      yield* withDatabase((client) =>
        Effect.map(
          query(client, "SELECT count(*)::int AS n FROM pg_proc WHERE proname = 'left_behind'"),
          (result) => assert.deepStrictEqual(result.rows, [{ n: 0 }])
        )
      )
      assert.isTrue(Exit.isFailure(yield* reach(changed)))
    }))

  it.live("a connection a test left open is cut at release, and the old URL reaches nothing after", () => {
    let straggler: Pg.Client | undefined
    return Effect.gen(function*() {
      const url = yield* withDatabase((_, url) =>
        Effect.promise(async () => {
          straggler = new Pg.Client({ connectionString: url })
          straggler.on("error", () => {})
          await straggler.connect()
          await straggler.query("SELECT 1")
        })
      )
      const cut = yield* Effect.exit(Effect.tryPromise(() => straggler!.query("SELECT 1")))
      assert.isTrue(Exit.isFailure(cut))
      assert.isTrue(Exit.isFailure(yield* reach(url)))
    }).pipe(Effect.ensuring(Effect.promise(() => straggler?.end().catch(() => undefined) ?? Promise.resolve())))
  })

  it.live("clones and renames go on after the server closed the worker's admin connection", () =>
    Effect.gen(function*() {
      yield* withDatabase(() => Effect.void)
      const { adminUrl } = inject("clinicDatabase")
      const cut = yield* withClient(adminUrl, (client) =>
        query(
          client,
          `SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name = '${adminApplicationName}'`
        ))
      assert.deepStrictEqual(cut.rows.map((row) => row.pg_terminate_backend), [true])
      const url = yield* withDatabase((client) =>
        Effect.map(
          query(client, "SELECT count(*)::int AS n FROM users"),
          (result) => assert.deepStrictEqual(result.rows, [{ n: 0 }])
        )
      )
      assert.isTrue(Exit.isFailure(yield* reach(url)))
    }))
})
