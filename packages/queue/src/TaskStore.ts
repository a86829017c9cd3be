import { Timestamp } from "@clinic/domain"
import { withMethodSpans } from "@clinic/foundation"
import { iso, isoForBatch } from "@clinic/foundation/Sql"
import { timeOrderedUuid } from "@clinic/foundation/TimeOrderedId"
import { SqlClient, SqlSchema } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Context, DateTime, Effect, Layer, Option, PubSub, Ref, Schema, Stream } from "effect"

export const TaskId = Schema.UUID.pipe(Schema.brand("TaskId"))
export type TaskId = typeof TaskId.Type

export const TaskStatus = Schema.Literal("pending", "running", "succeeded", "dead")
export type TaskStatus = typeof TaskStatus.Type

export class TaskRow extends Schema.Class<TaskRow>("TaskRow")({
  id: TaskId,
  name: Schema.String,
  queue: Schema.String,
  /** The payload as its schema encodes it (JSON). */
  payload: Schema.Unknown,
  priority: Schema.Number,
  status: TaskStatus,
  /** Runs started so far, including one in progress. */
  attempts: Schema.Number,
  maxAttempts: Schema.Number,
  runAt: Timestamp,
  lockedUntil: Schema.NullOr(Timestamp),
  leaseId: Schema.NullOr(Schema.String),
  idempotencyKey: Schema.NullOr(Schema.String),
  lastError: Schema.NullOr(Schema.String),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  finishedAt: Schema.NullOr(Timestamp),
  /** The W3C `traceparent` of the span that enqueued it: its runs continue that trace. */
  traceParent: Schema.NullOr(Schema.String)
}) {}

export interface NewTask {
  readonly name: string
  readonly queue: string
  readonly payload: unknown
  readonly priority: number
  readonly maxAttempts: number
  readonly runAt: DateTime.Utc
  readonly idempotencyKey: string | null
  readonly now: DateTime.Utc
  readonly traceParent: string | null
}

export interface Lease {
  readonly leaseId: string
  readonly now: DateTime.Utc
  readonly until: DateTime.Utc
}

export interface QueueDepth {
  readonly queue: string
  /** Pending and due. */
  readonly ready: number
  /** Pending with a future `runAt` (delayed or waiting for a retry). */
  readonly scheduled: number
  readonly running: number
  readonly dead: number
}

export interface TaskFilter {
  readonly queue?: string
  readonly status?: TaskStatus
  readonly name?: string
  readonly limit: number
  /** Latest created first (an operator's view) instead of oldest first. */
  readonly newestFirst?: boolean
}

/** Tasks of one queue that finished (succeeded or dead) in one bucket of time. */
export interface FinishedBucket {
  readonly queue: string
  readonly start: DateTime.Utc
  readonly succeeded: number
  readonly dead: number
}

/**
 * Where tasks live. Every method that changes a claimed task names the lease it holds and does
 * nothing (returns false) when the lease is no longer its own. Times are parameters, never the
 * database's clock.
 */
export interface Inserted {
  readonly id: TaskId
  /** False when the idempotency key had been used already (by an existing task or earlier in the batch). */
  readonly inserted: boolean
}

export interface Held {
  readonly id: TaskId
  readonly leaseId: string
}

export interface TaskStoreShape {
  /**
   * Inserts tasks in one statement, with one notification per queue; the results are in input
   * order. A task whose idempotency key is already used, by an existing task or earlier in the
   * same batch, is not inserted: its result names that task instead.
   */
  readonly insert: (tasks: ReadonlyArray<NewTask>) => Effect.Effect<ReadonlyArray<Inserted>>
  /**
   * Claims up to `limit` tasks of a queue under one lease, most urgent first (highest priority,
   * then earliest `runAt`): due pending tasks and tasks whose lease lapsed. Rows locked by another
   * claimer are skipped, never waited for. A lapsed task that has used its last attempt is marked
   * dead instead of claimed.
   */
  readonly claim: (queue: string, lease: Lease, limit: number) => Effect.Effect<ReadonlyArray<TaskRow>>
  readonly extendLease: (id: TaskId, leaseId: string, until: DateTime.Utc) => Effect.Effect<boolean>
  /** Marks tasks succeeded in one statement; returns those still held under their lease (the others are untouched). */
  readonly complete: (tasks: ReadonlyArray<Held>, now: DateTime.Utc) => Effect.Effect<ReadonlyArray<TaskId>>
  /** Back to pending at `runAt`, keeping the attempt. */
  readonly retry: (
    id: TaskId,
    leaseId: string,
    options: { readonly now: DateTime.Utc; readonly runAt: DateTime.Utc; readonly error: string }
  ) => Effect.Effect<boolean>
  readonly bury: (
    id: TaskId,
    leaseId: string,
    options: { readonly now: DateTime.Utc; readonly error: string }
  ) => Effect.Effect<boolean>
  /** Hands a claimed task back unrun: pending at `runAt` (default now), and the attempt does not count. */
  readonly release: (id: TaskId, leaseId: string, now: DateTime.Utc, runAt?: DateTime.Utc) => Effect.Effect<boolean>
  /** A dead task becomes pending again with a fresh set of attempts. */
  readonly requeue: (
    id: TaskId,
    options: { readonly now: DateTime.Utc; readonly runAt: DateTime.Utc }
  ) => Effect.Effect<boolean>
  readonly get: (id: TaskId) => Effect.Effect<Option.Option<TaskRow>>
  readonly list: (filter: TaskFilter) => Effect.Effect<ReadonlyArray<TaskRow>>
  /** Deletes a dead task (an operator gave up on it); false when it is not dead (or gone). */
  readonly discard: (id: TaskId) => Effect.Effect<boolean>
  /**
   * Tasks that finished since `since`, counted per queue and bucket of `bucketMinutes` (buckets
   * aligned on `since`; empty ones left out).
   */
  readonly finished: (since: DateTime.Utc, bucketMinutes: number) => Effect.Effect<ReadonlyArray<FinishedBucket>>
  readonly depth: (now: DateTime.Utc) => Effect.Effect<ReadonlyArray<QueueDepth>>
  /** Deletes succeeded and dead tasks finished before `before`; returns how many. */
  readonly prune: (before: DateTime.Utc) => Effect.Effect<number>
  /** Names of queues that received a task (best effort; workers also poll). */
  readonly notifications: Stream.Stream<string>
  /** Sends `payload` to every `notifications` stream; workers use it to learn that they listen. */
  readonly ping: (payload: string) => Effect.Effect<void>
}

export const NOTIFY_CHANNEL = "clinic_tasks"

const DepthRow = Schema.Struct({
  queue: Schema.String,
  ready: Schema.Number,
  scheduled: Schema.Number,
  running: Schema.Number,
  dead: Schema.Number
})

const byUrgency = (a: TaskRow, b: TaskRow): number =>
  b.priority - a.priority || a.runAt.epochMillis - b.runAt.epochMillis || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

/**
 * Gives each task of a batch an id. A task whose idempotency key appeared earlier in the batch is
 * left out (`fresh` holds the rest) and its result names the earlier task.
 */
const planInsert = (tasks: ReadonlyArray<NewTask>) => {
  const firstByKey = new Map<string, TaskId>()
  const fresh: Array<{ readonly id: TaskId; readonly task: NewTask }> = []
  const results = tasks.map((task): Inserted => {
    const earlier = task.idempotencyKey === null ? undefined : firstByKey.get(task.idempotencyKey)
    if (earlier !== undefined) return { id: earlier, inserted: false }
    const id = TaskId.make(timeOrderedUuid(task.now), true)
    if (task.idempotencyKey !== null) firstByKey.set(task.idempotencyKey, id)
    fresh.push({ id, task })
    return { id, inserted: true }
  })
  return { fresh, results }
}

const makePg = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const pg = yield* PgClient.PgClient

  // The payload travels as text: the client's result-name transform would otherwise rename the
  // keys inside the JSON document too.
  const decodeRows = Schema.decodeUnknown(
    Schema.Array(Schema.Struct({ ...TaskRow.fields, payload: Schema.parseJson() }))
  )
  const rows = <E, R>(query: Effect.Effect<ReadonlyArray<unknown>, E, R>) =>
    Effect.flatMap(query, (raw) =>
      // Decoded already: the class need not check the fields a second time.
      Effect.map(decodeRows(raw), (decoded) => decoded.map((row) => new TaskRow(row, true))))
  const columns = sql.literal(
    "id, name, queue, payload::text AS payload, priority, status, attempts, max_attempts, run_at, locked_until, " +
      "lease_id, idempotency_key, last_error, created_at, updated_at, finished_at, trace_parent"
  )
  const first = <E, R>(query: Effect.Effect<ReadonlyArray<unknown>, E, R>) =>
    Effect.map(rows(query), (found) => Option.fromNullable(found[0]))
  const changed = <E, R>(query: Effect.Effect<ReadonlyArray<unknown>, E, R>) =>
    Effect.map(query, (found) => found.length > 0)

  // One LISTEN per process, shared: `PgClient.listen` streams of one channel share a connection,
  // and the first to end would UNLISTEN it for all the others.
  const notifications = yield* Stream.share(pg.listen(NOTIFY_CHANNEL).pipe(Stream.orDie), { capacity: "unbounded" })

  const depthQuery = SqlSchema.findAll({
    Request: Schema.String,
    Result: DepthRow,
    execute: (now) =>
      sql`
        SELECT queue,
          count(*) FILTER (WHERE status = 'pending' AND run_at <= ${now})::int AS ready,
          count(*) FILTER (WHERE status = 'pending' AND run_at > ${now})::int AS scheduled,
          count(*) FILTER (WHERE status = 'running')::int AS running,
          count(*) FILTER (WHERE status = 'dead')::int AS dead
        FROM tasks GROUP BY queue ORDER BY queue`
  })

  const finishedQuery = SqlSchema.findAll({
    Request: Schema.Struct({ since: Schema.String, bucketSeconds: Schema.Number }),
    Result: Schema.Struct({
      queue: Schema.String,
      bucket: Schema.Number,
      succeeded: Schema.Number,
      dead: Schema.Number
    }),
    execute: ({ bucketSeconds, since }) =>
      sql`
        SELECT queue,
          floor(extract(epoch FROM finished_at - ${since}::timestamptz) / ${bucketSeconds})::int AS bucket,
          count(*) FILTER (WHERE status = 'succeeded')::int AS succeeded,
          count(*) FILTER (WHERE status = 'dead')::int AS dead
        FROM tasks WHERE finished_at >= ${since} AND status IN ('succeeded', 'dead')
        GROUP BY 1, 2 ORDER BY 1, 2`
  })

  return TaskStore.of({
    insert: (tasks) =>
      Effect.gen(function*() {
        const { fresh, results } = planInsert(tasks)
        if (fresh.length === 0) return results
        // One statement for the whole batch: each column travels as one array parameter, unnested
        // into rows (the payload as JSON text). A single JSON document for the rows, unpacked by
        // `jsonb_to_recordset`, took Postgres about 1.5x as long per batch. The notification (one
        // per queue) goes in the same statement, and is delivered on commit, so a worker never
        // wakes for a task it cannot see yet.
        const column = <A>(f: (task: NewTask) => A) => fresh.map(({ task }) => f(task))
        const text = isoForBatch()
        const inserted = yield* sql<{ id: TaskId }>`
          WITH inserted AS (
            INSERT INTO tasks (id, name, queue, payload, priority, status, attempts, max_attempts, run_at,
              idempotency_key, created_at, updated_at, trace_parent)
            SELECT id, name, queue, payload::jsonb, priority, 'pending', 0, max_attempts, run_at, idempotency_key,
              created_at, created_at, trace_parent
            FROM unnest(${fresh.map(({ id }) => id)}::uuid[], ${column((task) => task.name)}::text[],
              ${column((task) => task.queue)}::text[], ${column((task) => JSON.stringify(task.payload))}::text[],
              ${column((task) => task.priority)}::int[], ${column((task) => task.maxAttempts)}::int[],
              ${column((task) => text(task.runAt))}::timestamptz[], ${column((task) => task.idempotencyKey)}::text[],
              ${column((task) => text(task.now))}::timestamptz[], ${column((task) => task.traceParent)}::text[])
              AS t(id, name, queue, payload, priority, max_attempts, run_at, idempotency_key, created_at, trace_parent)
            ON CONFLICT (idempotency_key) DO NOTHING
            RETURNING id, queue
          ),
          notified AS (
            SELECT pg_notify(${NOTIFY_CHANNEL}, queue) FROM (SELECT DISTINCT queue FROM inserted) AS queues
          )
          SELECT id FROM inserted WHERE (SELECT count(*) FROM notified) >= 0`
        const insertedIds = new Set(inserted.map((row) => row.id))
        const taken = fresh.filter(({ id }) => !insertedIds.has(id)).map(({ task }) => task.idempotencyKey!)
        const existing = taken.length === 0 ? [] : yield* sql<{ id: TaskId; idempotencyKey: string }>`
          SELECT id, idempotency_key FROM tasks WHERE idempotency_key IN ${sql.in(taken)}`
        const byKey = new Map(existing.map((row) => [row.idempotencyKey, row.id]))
        return results.map((result, i): Inserted => {
          if (result.inserted && insertedIds.has(result.id)) return result
          const key = tasks[i].idempotencyKey!
          return { id: byKey.get(key) ?? result.id, inserted: false }
        })
      }).pipe(Effect.orDie, (self) => Effect.zipRight(Effect.annotateCurrentSpan({ tasks: tasks.length }), self)),
    claim: (queue, lease, limit) => {
      const now = iso(lease.now)
      // Why the previous attempt ended, in the words of `lapsedLeaseError` (the memory store's).
      const lapsedLeaseErrorSql = sql.literal(
        `'lease expired at ' || to_char(tasks.locked_until AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
          || ' (lease ' || tasks.lease_id || ' stopped renewing: its worker died or lost the database)'`
      )
      // Up to `limit` candidates of each kind, each read from its own partial index in claim order.
      // A single "pending OR lapsed" query can use neither index and sorted the whole backlog on
      // every claim (7 ms at 5,000 due tasks, 113 ms at 50,000). A lapsed candidate that loses to a
      // pending one stays locked only until this statement ends.
      return rows(sql`
        WITH reaped AS (
          UPDATE tasks SET status = 'dead', lease_id = NULL, locked_until = NULL, finished_at = ${now},
            updated_at = ${now}, last_error = ${lapsedLeaseErrorSql} || ' on the final attempt'
          WHERE queue = ${queue} AND status = 'running' AND locked_until <= ${now} AND attempts >= max_attempts
        ),
        due AS (
          SELECT id, priority, run_at FROM tasks
          WHERE queue = ${queue} AND status = 'pending' AND run_at <= ${now}
          ORDER BY priority DESC, run_at, id
          LIMIT ${limit}
          FOR UPDATE SKIP LOCKED
        ),
        lapsed AS (
          SELECT id, priority, run_at FROM tasks
          WHERE queue = ${queue} AND status = 'running' AND locked_until <= ${now} AND attempts < max_attempts
          ORDER BY priority DESC, run_at, id
          LIMIT ${limit}
          FOR UPDATE SKIP LOCKED
        ),
        chosen AS (
          SELECT id AS chosen_id FROM (SELECT * FROM due UNION ALL SELECT * FROM lapsed) AS candidates
          ORDER BY priority DESC, run_at, id
          LIMIT ${limit}
        )
        UPDATE tasks SET status = 'running', attempts = attempts + 1, lease_id = ${lease.leaseId},
          locked_until = ${iso(lease.until)}, updated_at = ${now},
          last_error = CASE WHEN tasks.status = 'running' THEN ${lapsedLeaseErrorSql} ELSE tasks.last_error END
        FROM chosen WHERE tasks.id = chosen.chosen_id
        RETURNING ${columns}`).pipe(
        // UPDATE ... RETURNING keeps no order: the claim order is restored here.
        Effect.map((claimed) => [...claimed].sort(byUrgency)),
        Effect.orDie,
        (self) => Effect.zipRight(Effect.annotateCurrentSpan({ queue, limit }), self)
      )
    },
    extendLease: (id, leaseId, until) =>
      changed(sql`
        UPDATE tasks SET locked_until = ${iso(until)}
        WHERE id = ${id} AND lease_id = ${leaseId} AND status = 'running' RETURNING id`).pipe(Effect.orDie),
    complete: (tasks, now) =>
      tasks.length === 0 ? Effect.succeed([]) : sql<{ id: TaskId }>`
        UPDATE tasks SET status = 'succeeded', lease_id = NULL, locked_until = NULL, finished_at = ${iso(now)},
          updated_at = ${iso(now)}
        FROM jsonb_to_recordset(${
        JSON.stringify(tasks.map(({ id, leaseId }) => ({ id, lease_id: leaseId })))
      }::jsonb) AS done(id uuid, lease_id uuid)
        WHERE tasks.id = done.id AND tasks.lease_id = done.lease_id AND tasks.status = 'running'
        RETURNING tasks.id`.pipe(
        Effect.map((done) => done.map((row) => row.id)),
        Effect.orDie,
        (self) => Effect.zipRight(Effect.annotateCurrentSpan({ tasks: tasks.length }), self)
      ),
    retry: (id, leaseId, { error, now, runAt }) =>
      changed(sql`
        UPDATE tasks SET status = 'pending', lease_id = NULL, locked_until = NULL, run_at = ${iso(runAt)},
          last_error = ${error}, updated_at = ${iso(now)}
        WHERE id = ${id} AND lease_id = ${leaseId} AND status = 'running' RETURNING id`).pipe(Effect.orDie),
    bury: (id, leaseId, { error, now }) =>
      changed(sql`
        UPDATE tasks SET status = 'dead', lease_id = NULL, locked_until = NULL, last_error = ${error},
          finished_at = ${iso(now)}, updated_at = ${iso(now)}
        WHERE id = ${id} AND lease_id = ${leaseId} AND status = 'running' RETURNING id`).pipe(Effect.orDie),
    release: (id, leaseId, now, runAt = now) =>
      changed(sql`
        UPDATE tasks SET status = 'pending', lease_id = NULL, locked_until = NULL, run_at = ${iso(runAt)},
          attempts = greatest(attempts - 1, 0), updated_at = ${iso(now)}
        WHERE id = ${id} AND lease_id = ${leaseId} AND status = 'running' RETURNING id`).pipe(Effect.orDie),
    requeue: (id, { now, runAt }) =>
      Effect.gen(function*() {
        const done = yield* changed(sql`
          UPDATE tasks SET status = 'pending', attempts = 0, run_at = ${iso(runAt)}, finished_at = NULL,
            updated_at = ${iso(now)}
          WHERE id = ${id} AND status = 'dead' RETURNING id`)
        if (done) yield* sql`SELECT pg_notify(${NOTIFY_CHANNEL}, queue) FROM tasks WHERE id = ${id}`
        return done
      }).pipe(Effect.orDie),
    get: (id) => first(sql`SELECT ${columns} FROM tasks WHERE id = ${id}`).pipe(Effect.orDie),
    list: (filter) =>
      rows(sql`
        SELECT ${columns} FROM tasks WHERE ${
        sql.and([
          ...(filter.queue !== undefined ? [sql`queue = ${filter.queue}`] : []),
          ...(filter.status !== undefined ? [sql`status = ${filter.status}`] : []),
          ...(filter.name !== undefined ? [sql`name = ${filter.name}`] : [])
        ])
      }
        ORDER BY ${filter.newestFirst ? sql`created_at DESC, id DESC` : sql`created_at, id`}
        LIMIT ${filter.limit}`).pipe(Effect.orDie),
    discard: (id) =>
      changed(sql`DELETE FROM tasks WHERE id = ${id} AND status = 'dead' RETURNING id`).pipe(Effect.orDie),
    finished: (since, bucketMinutes) =>
      finishedQuery({ since: iso(since), bucketSeconds: bucketMinutes * 60 }).pipe(
        Effect.map((found) =>
          found.map((row) => ({
            queue: row.queue,
            start: DateTime.unsafeMake(DateTime.toEpochMillis(since) + row.bucket * bucketMinutes * 60_000),
            succeeded: row.succeeded,
            dead: row.dead
          }))
        ),
        Effect.orDie
      ),
    depth: (now) => depthQuery(iso(now)).pipe(Effect.orDie),
    prune: (before) =>
      sql<{ id: string }>`
        DELETE FROM tasks WHERE finished_at < ${iso(before)} AND status IN ('succeeded', 'dead') RETURNING id`.pipe(
        Effect.map((deleted) => deleted.length),
        Effect.orDie
      ),
    notifications,
    // `PgClient.notify` sends `NOTIFY channel, $1`, which Postgres rejects: NOTIFY takes no parameters.
    ping: (payload) => sql`SELECT pg_notify(${NOTIFY_CHANNEL}, ${payload})`.pipe(Effect.asVoid, Effect.orDie)
  })
})

/** Why a task's attempt ended when its lease lapsed: recorded when the task is claimed again or buried. */
const lapsedLeaseError = (row: TaskRow): string =>
  `lease expired at ${
    row.lockedUntil === null ? "?" : DateTime.formatIso(row.lockedUntil)
  } (lease ${row.leaseId} stopped renewing: its worker died or lost the database)`

const makeMemory = Effect.gen(function*() {
  const rows = yield* Ref.make<ReadonlyMap<TaskId, TaskRow>>(new Map())
  const hub = yield* PubSub.unbounded<string>()

  const put = (map: ReadonlyMap<TaskId, TaskRow>, row: TaskRow) => new Map(map).set(row.id, row)

  /** Applies `f` to the task if it is running under `leaseId`. */
  const underLease = (id: TaskId, leaseId: string, f: (row: TaskRow) => TaskRow) =>
    Ref.modify(rows, (map): readonly [boolean, ReadonlyMap<TaskId, TaskRow>] => {
      const row = map.get(id)
      if (!row || row.status !== "running" || row.leaseId !== leaseId) return [false, map]
      return [true, put(map, f(row))]
    })

  const lapsed = (row: TaskRow, now: DateTime.Utc) =>
    row.status === "running" && row.lockedUntil !== null && !DateTime.lessThan(now, row.lockedUntil)

  return TaskStore.of({
    insert: (tasks) =>
      Effect.flatMap(
        Ref.modify(rows, (map): readonly [ReadonlyArray<Inserted>, ReadonlyMap<TaskId, TaskRow>] => {
          const { fresh, results } = planInsert(tasks)
          const next = new Map(map)
          const existingByKey = new Map<string, TaskId>()
          for (const row of map.values()) if (row.idempotencyKey !== null) existingByKey.set(row.idempotencyKey, row.id)
          const taken = new Map<TaskId, TaskId>()
          for (const { id, task } of fresh) {
            const existing = task.idempotencyKey === null ? undefined : existingByKey.get(task.idempotencyKey)
            if (existing !== undefined) {
              taken.set(id, existing)
              continue
            }
            next.set(
              id,
              new TaskRow({
                id,
                name: task.name,
                queue: task.queue,
                payload: structuredClone(task.payload),
                priority: task.priority,
                status: "pending",
                attempts: 0,
                maxAttempts: task.maxAttempts,
                runAt: task.runAt,
                lockedUntil: null,
                leaseId: null,
                idempotencyKey: task.idempotencyKey,
                lastError: null,
                createdAt: task.now,
                updatedAt: task.now,
                finishedAt: null,
                traceParent: task.traceParent
              })
            )
          }
          return [
            results.map((result) => {
              const existing = taken.get(result.id)
              return existing === undefined ? result : { id: existing, inserted: false }
            }),
            next
          ]
        }),
        (results) =>
          Effect.as(
            Effect.forEach(
              new Set(tasks.filter((_, i) => results[i].inserted).map((task) => task.queue)),
              (queue) => PubSub.publish(hub, queue),
              { discard: true }
            ),
            results
          )
      ),
    claim: (queue, lease, limit) =>
      Ref.modify(rows, (map): readonly [ReadonlyArray<TaskRow>, ReadonlyMap<TaskId, TaskRow>] => {
        const next = new Map(map)
        for (const row of map.values()) {
          if (row.queue === queue && lapsed(row, lease.now) && row.attempts >= row.maxAttempts) {
            next.set(
              row.id,
              new TaskRow({
                ...row,
                status: "dead",
                leaseId: null,
                lockedUntil: null,
                finishedAt: lease.now,
                updatedAt: lease.now,
                lastError: `${lapsedLeaseError(row)} on the final attempt`
              })
            )
          }
        }
        const candidates = [...next.values()]
          .filter((row) =>
            row.queue === queue &&
            ((row.status === "pending" && !DateTime.lessThan(lease.now, row.runAt)) || lapsed(row, lease.now))
          )
          .sort(byUrgency)
          .slice(0, limit)
        const claimed = candidates.map((candidate) =>
          new TaskRow({
            ...candidate,
            lastError: candidate.status === "running" ? lapsedLeaseError(candidate) : candidate.lastError,
            status: "running",
            attempts: candidate.attempts + 1,
            leaseId: lease.leaseId,
            lockedUntil: lease.until,
            updatedAt: lease.now
          })
        )
        for (const row of claimed) next.set(row.id, row)
        return [claimed, next]
      }),
    extendLease: (id, leaseId, until) => underLease(id, leaseId, (row) => new TaskRow({ ...row, lockedUntil: until })),
    complete: (tasks, now) =>
      Effect.map(
        Effect.forEach(tasks, ({ id, leaseId }) =>
          Effect.map(
            underLease(id, leaseId, (row) =>
              new TaskRow({
                ...row,
                status: "succeeded",
                leaseId: null,
                lockedUntil: null,
                finishedAt: now,
                updatedAt: now
              })),
            (done) => done ? [id] : []
          )),
        (done) => done.flat()
      ),
    retry: (id, leaseId, { error, now, runAt }) =>
      underLease(id, leaseId, (row) =>
        new TaskRow({
          ...row,
          status: "pending",
          leaseId: null,
          lockedUntil: null,
          runAt,
          lastError: error,
          updatedAt: now
        })),
    bury: (id, leaseId, { error, now }) =>
      underLease(id, leaseId, (row) =>
        new TaskRow({
          ...row,
          status: "dead",
          leaseId: null,
          lockedUntil: null,
          lastError: error,
          finishedAt: now,
          updatedAt: now
        })),
    release: (id, leaseId, now, runAt = now) =>
      underLease(id, leaseId, (row) =>
        new TaskRow({
          ...row,
          status: "pending",
          leaseId: null,
          lockedUntil: null,
          runAt,
          attempts: Math.max(0, row.attempts - 1),
          updatedAt: now
        })),
    requeue: (id, { now, runAt }) =>
      Effect.flatMap(
        Ref.modify(rows, (map): readonly [Option.Option<string>, ReadonlyMap<TaskId, TaskRow>] => {
          const row = map.get(id)
          if (!row || row.status !== "dead") return [Option.none(), map]
          return [
            Option.some(row.queue),
            put(map, new TaskRow({ ...row, status: "pending", attempts: 0, runAt, finishedAt: null, updatedAt: now }))
          ]
        }),
        Option.match({
          onNone: () => Effect.succeed(false),
          onSome: (queue) => Effect.as(PubSub.publish(hub, queue), true)
        })
      ),
    get: (id) => Effect.map(Ref.get(rows), (map) => Option.fromNullable(map.get(id))),
    list: (filter) =>
      Effect.map(Ref.get(rows), (map) =>
        [...map.values()]
          .filter((row) =>
            (filter.queue === undefined || row.queue === filter.queue) &&
            (filter.status === undefined || row.status === filter.status) &&
            (filter.name === undefined || row.name === filter.name)
          )
          .sort((a, b) =>
            (a.createdAt.epochMillis - b.createdAt.epochMillis || (a.id < b.id ? -1 : 1)) *
            (filter.newestFirst ? -1 : 1)
          )
          .slice(0, filter.limit)),
    discard: (id) =>
      Ref.modify(rows, (map): readonly [boolean, ReadonlyMap<TaskId, TaskRow>] => {
        if (map.get(id)?.status !== "dead") return [false, map]
        const next = new Map(map)
        next.delete(id)
        return [true, next]
      }),
    finished: (since, bucketMinutes) =>
      Effect.map(Ref.get(rows), (map) => {
        const width = bucketMinutes * 60_000
        const buckets = new Map<string, { -readonly [K in keyof FinishedBucket]: FinishedBucket[K] }>()
        for (const row of map.values()) {
          if (row.finishedAt === null || DateTime.lessThan(row.finishedAt, since)) continue
          if (row.status !== "succeeded" && row.status !== "dead") continue
          const index = Math.floor((row.finishedAt.epochMillis - since.epochMillis) / width)
          const key = `${row.queue}\u0000${index}`
          const bucket = buckets.get(key) ??
            { queue: row.queue, start: DateTime.unsafeMake(since.epochMillis + index * width), succeeded: 0, dead: 0 }
          if (row.status === "succeeded") bucket.succeeded++
          else bucket.dead++
          buckets.set(key, bucket)
        }
        return [...buckets.values()].sort((a, b) =>
          a.queue.localeCompare(b.queue) || a.start.epochMillis - b.start.epochMillis
        )
      }),
    depth: (now) =>
      Effect.map(Ref.get(rows), (map) => {
        const byQueue = new Map<string, { -readonly [K in keyof QueueDepth]: QueueDepth[K] }>()
        for (const row of map.values()) {
          const depth = byQueue.get(row.queue) ??
            { queue: row.queue, ready: 0, scheduled: 0, running: 0, dead: 0 }
          if (row.status === "pending") {
            if (DateTime.lessThan(now, row.runAt)) depth.scheduled++
            else depth.ready++
          } else if (row.status === "running") depth.running++
          else if (row.status === "dead") depth.dead++
          byQueue.set(row.queue, depth)
        }
        return [...byQueue.values()].sort((a, b) => (a.queue < b.queue ? -1 : 1))
      }),
    prune: (before) =>
      Ref.modify(rows, (map): readonly [number, ReadonlyMap<TaskId, TaskRow>] => {
        const next = new Map(map)
        for (const row of map.values()) {
          if (
            (row.status === "succeeded" || row.status === "dead") && row.finishedAt !== null &&
            DateTime.lessThan(row.finishedAt, before)
          ) next.delete(row.id)
        }
        return [map.size - next.size, next]
      }),
    notifications: Stream.fromPubSub(hub),
    ping: (payload) => Effect.asVoid(PubSub.publish(hub, payload))
  })
})

export class TaskStore extends Context.Tag("@clinic/queue/TaskStore")<TaskStore, TaskStoreShape>() {
  /** On Postgres, through the ambient `SqlClient`: inside `sql.withTransaction`, writes join it. */
  static readonly layerPg = Layer.scoped(TaskStore, makePg.pipe(withMethodSpans("TaskStore")))
  static readonly layerMemory = Layer.effect(TaskStore, makeMemory.pipe(withMethodSpans("TaskStore")))
}
