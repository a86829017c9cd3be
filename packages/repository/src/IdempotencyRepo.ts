import { IdempotencyKeyReused, type UserId } from "@clinic/domain"
import { withMethodSpans } from "@clinic/foundation"
import { iso } from "@clinic/foundation/Sql"
import { SqlClient, SqlSchema } from "@effect/sql"
import { Context, DateTime, Effect, Layer, Option, Ref, Schema } from "effect"

/** Who sent which key, and a digest of what they asked for under it. */
export interface IdempotencyScope {
  readonly userId: UserId
  readonly key: string
  readonly requestHash: string
}

/** A response as it was first answered: its HTTP status and its JSON body. */
export interface StoredResponse {
  readonly status: number
  readonly body: unknown
}

export interface IdempotencyOutcome {
  readonly replayed: boolean
  readonly response: StoredResponse
}

export interface IdempotencyRepoShape {
  /**
   * Runs `compute` once per (user, key) and stores its response; a later call with the same key
   * and hash gets that response back (`replayed`), one with another hash fails with
   * `IdempotencyKeyReused`. Concurrent calls with one key run `compute` once: the others wait for
   * the first and replay it. If `compute` dies nothing is stored, so the key can be retried.
   * Call it inside the caller's `sql.withTransaction`: on Postgres the claimed row holds the key
   * until that transaction ends, and its rollback is what forgets a key whose `compute` died.
   */
  readonly run: <R>(
    scope: IdempotencyScope,
    compute: Effect.Effect<StoredResponse, never, R>
  ) => Effect.Effect<IdempotencyOutcome, IdempotencyKeyReused, R>
}

const reused = new IdempotencyKeyReused({
  message: "This Idempotency-Key was already used with a different request body"
})

const makePg = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient

  const claim = SqlSchema.findAll({
    Request: Schema.Struct({
      userId: Schema.String,
      key: Schema.String,
      requestHash: Schema.String,
      now: Schema.String
    }),
    Result: Schema.Struct({ key: Schema.String }),
    execute: ({ key, now, requestHash, userId }) =>
      sql`INSERT INTO idempotency_keys (user_id, key, request_hash, created_at)
          VALUES (${userId}, ${key}, ${requestHash}, ${now})
          ON CONFLICT (user_id, key) DO NOTHING
          RETURNING key`
  })
  const stored = SqlSchema.single({
    Request: Schema.Struct({ userId: Schema.String, key: Schema.String }),
    Result: Schema.Struct({
      requestHash: Schema.String,
      statusCode: Schema.NullOr(Schema.Int),
      response: Schema.Unknown
    }),
    execute: ({ key, userId }) =>
      sql`SELECT request_hash, status_code, response FROM idempotency_keys WHERE user_id = ${userId} AND key = ${key}`
  })

  return IdempotencyRepo.of({
    run: (scope, compute) =>
      Effect.gen(function*() {
        const now = iso(yield* DateTime.now)
        // Waits on the primary key while another transaction holds the same key uncommitted.
        const claimed = yield* claim({ ...scope, now })
        if (claimed.length === 0) {
          const row = yield* stored(scope)
          if (row.requestHash !== scope.requestHash) return yield* Effect.fail(reused)
          if (row.statusCode === null) return yield* Effect.dieMessage("idempotency key stored without a response")
          return { replayed: true, response: { status: row.statusCode, body: row.response } }
        }
        const response = yield* compute
        yield* sql`UPDATE idempotency_keys
                   SET status_code = ${response.status}, response = ${JSON.stringify(response.body)}::jsonb
                   WHERE user_id = ${scope.userId} AND key = ${scope.key}`
        return { replayed: false, response }
      }).pipe(
        Effect.catchTags({ SqlError: Effect.die, ParseError: Effect.die, NoSuchElementException: Effect.die }),
        Effect.withSpan("IdempotencyRepo.run")
      )
  })
})

/**
 * The in-memory twin keeps its own table; one permit serialises every keyed request, which is
 * the simplest way to give concurrent retries the same once-only guarantee as the row lock.
 */
const makeMemory = Effect.gen(function*() {
  const rows = yield* Ref.make(new Map<string, { readonly requestHash: string; readonly response: StoredResponse }>())
  const lock = yield* Effect.makeSemaphore(1)
  return IdempotencyRepo.of({
    run: (scope, compute) =>
      Effect.gen(function*() {
        const id = `${scope.userId}\u0000${scope.key}`
        const existing = Option.fromNullable((yield* Ref.get(rows)).get(id))
        if (Option.isSome(existing)) {
          if (existing.value.requestHash !== scope.requestHash) return yield* Effect.fail(reused)
          return { replayed: true, response: existing.value.response }
        }
        const response = yield* compute
        yield* Ref.update(rows, (map) => new Map(map).set(id, { requestHash: scope.requestHash, response }))
        return { replayed: false, response }
      }).pipe(lock.withPermits(1))
  })
}).pipe(withMethodSpans("IdempotencyRepo"))

export class IdempotencyRepo extends Context.Tag("@clinic/repository/IdempotencyRepo")<
  IdempotencyRepo,
  IdempotencyRepoShape
>() {
  static readonly layerPg = Layer.effect(IdempotencyRepo, makePg)
  static readonly layerMemory = Layer.effect(IdempotencyRepo, makeMemory)
}
