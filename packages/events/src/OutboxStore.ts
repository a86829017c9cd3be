import { EventId, Timestamp } from "@clinic/domain"
import { withMethodSpans } from "@clinic/foundation"
import { iso, isoForBatch } from "@clinic/foundation/Sql"
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Context, DateTime, Effect, Layer, Option, PubSub, Ref, Schema, Stream } from "effect"

/** An outbox row: the event as its schema encodes it, not yet decoded. */
export class StoredEvent extends Schema.Class<StoredEvent>("StoredEvent")({
  id: EventId,
  type: Schema.String,
  payload: Schema.Unknown,
  occurredAt: Timestamp,
  dispatchedAt: Schema.NullOr(Timestamp),
  /** The W3C `traceparent` of the span that published it: its relay and deliveries continue that trace. */
  traceParent: Schema.NullOr(Schema.String)
}) {}

/** An event to write to the outbox. */
export interface NewEvent {
  readonly id: EventId
  readonly type: string
  readonly payload: unknown
  readonly occurredAt: DateTime.Utc
  readonly traceParent: string | null
}

export interface OutboxStoreShape {
  /** Writes through the ambient `SqlClient`, so inside `sql.withTransaction` it commits with the change. */
  readonly insert: (event: NewEvent) => Effect.Effect<void>
  /** Like `insert`, for many events in one statement (and one notification). */
  readonly insertAll: (events: ReadonlyArray<NewEvent>) => Effect.Effect<void>
  /**
   * Takes up to `limit` undispatched events (oldest first, skipping rows another relay holds), runs
   * `fanOut` on them, and stamps them dispatched. If `fanOut` fails, nothing is stamped. Call it
   * inside `sql.withTransaction`: the row locks last until the caller's transaction ends.
   */
  readonly dispatch: <R>(
    limit: number,
    now: DateTime.Utc,
    fanOut: (events: ReadonlyArray<StoredEvent>) => Effect.Effect<void, never, R>
  ) => Effect.Effect<number, never, R>
  readonly get: (id: EventId) => Effect.Effect<Option.Option<StoredEvent>>
  /** The latest events, newest first (an operator's view). */
  readonly recent: (limit: number) => Effect.Effect<ReadonlyArray<StoredEvent>>
  /** Which of `subscribers` have handled `eventId`. */
  readonly processedBy: (eventId: EventId) => Effect.Effect<ReadonlyArray<string>>
  /**
   * Holds the (event, subscriber) pair until the caller's transaction ends, so that a concurrent
   * delivery of the same pair waits here and then finds it processed. Call it inside
   * `sql.withTransaction`. In memory there is nothing to hold: one process runs the pair's one task
   * (the relay enqueues it under an idempotency key), so deliveries of a pair never overlap.
   */
  readonly lockDelivery: (eventId: EventId, subscriber: string) => Effect.Effect<void>
  /** Records that `subscriber` handled the event; false if it already had. */
  readonly markProcessed: (eventId: EventId, subscriber: string, now: DateTime.Utc) => Effect.Effect<boolean>
  readonly isProcessed: (eventId: EventId, subscriber: string) => Effect.Effect<boolean>
  readonly pruneProcessed: (before: DateTime.Utc) => Effect.Effect<number>
  readonly pruneDispatched: (before: DateTime.Utc) => Effect.Effect<number>
  /** Ids of newly committed events (best effort; the relay also polls). */
  readonly notifications: Stream.Stream<string>
  readonly ping: (payload: string) => Effect.Effect<void>
}

export const NOTIFY_CHANNEL = "clinic_outbox"

const makePg = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const pg = yield* PgClient.PgClient
  // As text: the client's result-name transform would rename keys inside the JSON document.
  const columns = sql.literal("id, type, payload::text AS payload, occurred_at, dispatched_at, trace_parent")
  const decode = Schema.decodeUnknown(
    Schema.Array(Schema.Struct({ ...StoredEvent.fields, payload: Schema.parseJson() }))
  )
  const rows = <E, R>(query: Effect.Effect<ReadonlyArray<unknown>, E, R>) =>
    Effect.flatMap(query, decode).pipe(Effect.map((found) => found.map((row) => new StoredEvent(row))))

  // One LISTEN per process, shared: `PgClient.listen` streams of one channel share a connection,
  // and the first to end would UNLISTEN it for all the others.
  const notifications = yield* Stream.share(pg.listen(NOTIFY_CHANNEL).pipe(Stream.orDie), { capacity: "unbounded" })

  return OutboxStore.of({
    // The notification goes in the same statement (one round trip inside the caller's transaction);
    // it is delivered on commit, never for a rolled-back change.
    insert: (event) =>
      sql`
        WITH inserted AS (
          INSERT INTO outbox_events (id, type, payload, occurred_at, trace_parent)
          VALUES (${event.id}, ${event.type}, ${JSON.stringify(event.payload)}::jsonb, ${iso(event.occurredAt)},
            ${event.traceParent})
          RETURNING id
        )
        SELECT pg_notify(${NOTIFY_CHANNEL}, ${event.id}) FROM inserted`.pipe(Effect.asVoid, Effect.orDie),
    // One notification for the batch: the relay reads it as "look now", whichever event it names.
    // Each column travels as one array parameter, unnested into rows: a cleanup batch of 1,000
    // events is 5 parameters instead of 5,000, which the client compiles and Postgres parses.
    insertAll: (events) => {
      if (events.length === 0) return Effect.void
      const text = isoForBatch()
      return sql`
        WITH inserted AS (
          INSERT INTO outbox_events (id, type, payload, occurred_at, trace_parent)
          SELECT id, type, payload::jsonb, occurred_at, trace_parent
          FROM unnest(${events.map((event) => event.id)}::uuid[], ${events.map((event) => event.type)}::text[],
            ${events.map((event) => JSON.stringify(event.payload))}::text[],
            ${events.map((event) => text(event.occurredAt))}::timestamptz[],
            ${events.map((event) => event.traceParent)}::text[])
            AS t(id, type, payload, occurred_at, trace_parent)
          RETURNING id
        )
        SELECT pg_notify(${NOTIFY_CHANNEL}, ${events[0].id}) FROM (SELECT 1 FROM inserted LIMIT 1) AS any_row`.pipe(
        Effect.asVoid,
        Effect.orDie,
        (self) => Effect.zipRight(Effect.annotateCurrentSpan({ count: events.length }), self)
      )
    },
    dispatch: (limit, now, fanOut) =>
      Effect.gen(function*() {
        const events = yield* rows(sql`
          SELECT ${columns} FROM outbox_events WHERE dispatched_at IS NULL
          ORDER BY occurred_at, id LIMIT ${limit} FOR UPDATE SKIP LOCKED`)
        if (events.length === 0) return 0
        yield* fanOut(events)
        yield* sql`UPDATE outbox_events SET dispatched_at = ${iso(now)} WHERE ${sql.in("id", events.map((e) => e.id))}`
        return events.length
      }).pipe(Effect.orDie),
    get: (id) =>
      rows(sql`SELECT ${columns} FROM outbox_events WHERE id = ${id}`).pipe(
        Effect.map((found) => Option.fromNullable(found[0])),
        Effect.orDie
      ),
    recent: (limit) =>
      rows(sql`SELECT ${columns} FROM outbox_events ORDER BY occurred_at DESC, id DESC LIMIT ${limit}`).pipe(
        Effect.orDie
      ),
    processedBy: (eventId) =>
      sql<{ subscriber: string }>`SELECT subscriber FROM processed_events WHERE event_id = ${eventId}`.pipe(
        Effect.map((found) => found.map((row) => row.subscriber)),
        Effect.orDie
      ),
    // The two-key form has its own key space: no clash with one-key advisory locks elsewhere. A
    // hash collision only makes two deliveries wait for each other.
    lockDelivery: (eventId, subscriber) =>
      sql`SELECT pg_advisory_xact_lock(hashtext(${NOTIFY_CHANNEL}), hashtext(${eventId} || ${subscriber}))`.pipe(
        Effect.asVoid,
        Effect.orDie
      ),
    markProcessed: (eventId, subscriber, now) =>
      sql`
        INSERT INTO processed_events (event_id, subscriber, processed_at)
        VALUES (${eventId}, ${subscriber}, ${iso(now)})
        ON CONFLICT DO NOTHING RETURNING event_id`.pipe(Effect.map((inserted) => inserted.length > 0), Effect.orDie),
    isProcessed: (eventId, subscriber) =>
      sql`SELECT 1 FROM processed_events WHERE event_id = ${eventId} AND subscriber = ${subscriber}`.pipe(
        Effect.map((found) => found.length > 0),
        Effect.orDie
      ),
    pruneProcessed: (before) =>
      sql`DELETE FROM processed_events WHERE processed_at < ${iso(before)} RETURNING event_id`.pipe(
        Effect.map((deleted) => deleted.length),
        Effect.orDie
      ),
    pruneDispatched: (before) =>
      sql`DELETE FROM outbox_events WHERE dispatched_at < ${iso(before)} RETURNING id`.pipe(
        Effect.map((deleted) => deleted.length),
        Effect.orDie
      ),
    notifications,
    ping: (payload) => sql`SELECT pg_notify(${NOTIFY_CHANNEL}, ${payload})`.pipe(Effect.asVoid, Effect.orDie)
  })
})

const makeMemory = Effect.gen(function*() {
  const events = yield* Ref.make<ReadonlyMap<string, StoredEvent>>(new Map())
  const processed = yield* Ref.make<ReadonlyMap<string, DateTime.Utc>>(new Map())
  const hub = yield* PubSub.unbounded<string>()
  const key = (eventId: string, subscriber: string) => `${eventId}\u0000${subscriber}`

  const insert = (event: NewEvent) =>
    Ref.update(events, (map) =>
      new Map(map).set(
        event.id,
        new StoredEvent({
          id: event.id,
          type: event.type,
          payload: structuredClone(event.payload),
          occurredAt: event.occurredAt,
          dispatchedAt: null,
          traceParent: event.traceParent
        })
      )).pipe(Effect.zipRight(PubSub.publish(hub, event.id)), Effect.asVoid)

  return OutboxStore.of({
    insert,
    insertAll: (all) => Effect.forEach(all, insert, { discard: true }),
    dispatch: (limit, now, fanOut) =>
      Effect.gen(function*() {
        const due = [...(yield* Ref.get(events)).values()]
          .filter((e) => e.dispatchedAt === null)
          .sort((a, b) => a.occurredAt.epochMillis - b.occurredAt.epochMillis || (a.id < b.id ? -1 : 1))
          .slice(0, limit)
        if (due.length === 0) return 0
        yield* fanOut(due)
        yield* Ref.update(events, (map) => {
          const next = new Map(map)
          for (const e of due) next.set(e.id, new StoredEvent({ ...e, dispatchedAt: now }))
          return next
        })
        return due.length
      }),
    get: (id) => Effect.map(Ref.get(events), (map) => Option.fromNullable(map.get(id))),
    recent: (limit) =>
      Effect.map(Ref.get(events), (map) =>
        [...map.values()]
          .sort((a, b) => b.occurredAt.epochMillis - a.occurredAt.epochMillis || (a.id < b.id ? 1 : -1))
          .slice(0, limit)),
    processedBy: (eventId) =>
      Effect.map(
        Ref.get(processed),
        (map) =>
          [...map.keys()].filter((k) => k.startsWith(key(eventId, ""))).map((k) => k.slice(key(eventId, "").length))
      ),
    lockDelivery: () => Effect.void,
    markProcessed: (eventId, subscriber, now) =>
      Ref.modify(processed, (map) =>
        map.has(key(eventId, subscriber))
          ? [false, map]
          : [true, new Map(map).set(key(eventId, subscriber), now)]),
    isProcessed: (eventId, subscriber) => Effect.map(Ref.get(processed), (map) => map.has(key(eventId, subscriber))),
    pruneProcessed: (before) =>
      Ref.modify(processed, (map) => {
        const next = new Map([...map].filter(([, at]) => !DateTime.lessThan(at, before)))
        return [map.size - next.size, next]
      }),
    pruneDispatched: (before) =>
      Ref.modify(events, (map) => {
        const next = new Map(
          [...map].filter(([, e]) => e.dispatchedAt === null || !DateTime.lessThan(e.dispatchedAt, before))
        )
        return [map.size - next.size, next]
      }),
    notifications: Stream.fromPubSub(hub),
    ping: (payload) => Effect.asVoid(PubSub.publish(hub, payload))
  })
})

export class OutboxStore extends Context.Tag("@clinic/events/OutboxStore")<OutboxStore, OutboxStoreShape>() {
  static readonly layerPg = Layer.scoped(OutboxStore, makePg.pipe(withMethodSpans("OutboxStore")))
  static readonly layerMemory = Layer.effect(OutboxStore, makeMemory.pipe(withMethodSpans("OutboxStore")))
}
