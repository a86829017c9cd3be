/**
 * Where one batch of the expired-session cleanup spends its time, from the spans it opens: the
 * delete statement and the decoding of its row (`AuthSessionRepo.deleteBatch`), building and
 * encoding the events (`EventBus.publishAll` less `OutboxStore.insertAll`), the outbox INSERT with
 * its pg_notify (one `sql.execute` span), and COMMIT (the transaction span after its commit
 * event). Each batch runs as `SessionCleanup` runs one: the repo's delete and `publishAll` of one
 * `auth_session.expired` per session, in one transaction. Prints the median of each part over the
 * batches, and EXPLAIN (ANALYZE, BUFFERS) of one delete statement (rolled back). Prints only.
 * Size: BENCH_SESSIONS (default 200,000); PROFILE_BATCH rows a batch (default 1000);
 * PROFILE_BATCHES batches (default 40).
 */
import { EventBus, OutboxStore } from "@clinic/events"
import { AuthSessionRepo, Database, Migrations, SessionSelector } from "@clinic/repository"
import * as Repositories from "@clinic/repository/Repositories"
import { explained } from "@clinic/repository/testing/Explain"
import { databaseUrl, query, server, withClient } from "@clinic/repository/testing/TestServer"
import { NodeRuntime } from "@effect/platform-node"
import { SqlClient } from "@effect/sql"
import { DateTime, Effect, Layer, Option, Redacted, Tracer } from "effect"
import { seed } from "./seed.js"

const sessions = Number(process.env.BENCH_SESSIONS ?? 200_000)
const batchSize = Number(process.env.PROFILE_BATCH ?? 1000)
const batchCount = Number(process.env.PROFILE_BATCHES ?? 40)

interface Recorded {
  readonly name: string
  readonly spanId: string
  readonly parentId: string | undefined
  readonly start: bigint
  end: bigint
  readonly events: Array<[string, bigint]>
  readonly attributes: Map<string, unknown>
}

/** The default tracer, keeping every span it ends. */
const recording = (base: Tracer.Tracer, into: Array<Recorded>) =>
  Tracer.make({
    context: (f, fiber) => base.context(f, fiber),
    span: (name, parent, context, links, startTime, kind, options) => {
      const span = base.span(name, parent, context, links, startTime, kind, options)
      const recorded: Recorded = {
        name,
        spanId: span.spanId,
        parentId: Option.getOrUndefined(Option.map(parent, (p) => p.spanId)),
        start: startTime,
        end: startTime,
        events: [],
        attributes: span.attributes as Map<string, unknown>
      }
      const end = span.end.bind(span)
      const event = span.event.bind(span)
      span.end = (endTime, exit) => {
        recorded.end = endTime
        into.push(recorded)
        end(endTime, exit)
      }
      span.event = (eventName, startTime, attributes) => {
        recorded.events.push([eventName, startTime])
        event(eventName, startTime, attributes)
      }
      return span
    }
  })

const ms = (nanos: bigint) => Number(nanos) / 1e6
const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}

/** One batch's parts (ms) from its transaction span and the spans under it. */
const breakdown = (transaction: Recorded, spans: ReadonlyArray<Recorded>) => {
  const children = (parent: Recorded) => spans.filter((s) => s.parentId === parent.spanId)
  const under = (parent: Recorded, name: string) => children(parent).filter((s) => s.name === name)
  const took = (s: Recorded | undefined) => (s ? ms(s.end - s.start) : 0)
  const statement = (parent: Recorded, prefix: string) =>
    under(parent, "sql.execute").find((s) => String(s.attributes.get("db.query.text") ?? "").trim().startsWith(prefix))
  const deleteBatch = spans.find((s) => s.name === "AuthSessionRepo.deleteBatch" && isUnder(s, transaction, spans))
  const publishAll = spans.find((s) => s.name === "EventBus.publishAll" && isUnder(s, transaction, spans))
  const insertAll = publishAll && spans.find((s) => s.name === "OutboxStore.insertAll" && isUnder(s, publishAll, spans))
  const deleteStatement = deleteBatch && descendants(deleteBatch, spans).find((s) => s.name === "sql.execute")
  // The INSERT and its pg_notify are one statement.
  const insert = insertAll && statement(insertAll, "WITH inserted")
  const commitAt = transaction.events.find(([name]) => name === "db.transaction.commit")?.[1]
  return {
    "delete statement": took(deleteStatement),
    "decode delete result": took(deleteBatch) - took(deleteStatement),
    "build + encode events": took(publishAll) - took(insertAll),
    "outbox INSERT + pg_notify": took(insert),
    "insertAll other": took(insertAll) - took(insert),
    "COMMIT": commitAt === undefined ? 0 : ms(transaction.end - commitAt),
    "transaction total": took(transaction)
  }
}

const descendants = (root: Recorded, spans: ReadonlyArray<Recorded>): Array<Recorded> =>
  spans.filter((s) => isUnder(s, root, spans))

const isUnder = (span: Recorded, root: Recorded, spans: ReadonlyArray<Recorded>): boolean => {
  let parentId = span.parentId
  while (parentId !== undefined) {
    if (parentId === root.spanId) return true
    parentId = spans.find((s) => s.spanId === parentId)?.parentId
  }
  return false
}

const program = Effect.gen(function*() {
  const adminUrl = yield* server
  yield* withClient(adminUrl, (client) => query(client, "CREATE DATABASE clinic_profile"))
  const database = Database.clientLayer(Redacted.make(databaseUrl(adminUrl, "clinic_profile")), { maxConnections: 4 })

  return yield* Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const repo = yield* AuthSessionRepo
    const outbox = yield* OutboxStore
    yield* Effect.log(`seeding ${sessions} expired sessions`)
    yield* seed(sessions)
    const now = yield* DateTime.now
    const selector = SessionSelector.Expired({ now })

    // The repo's own delete statement, explained inside a transaction that rolls back.
    yield* explained("delete batch", repo.deleteBatch(selector, batchSize)).pipe(
      Effect.zipRight(Effect.fail("rollback" as const)),
      sql.withTransaction,
      Effect.catchIf((e) => e === "rollback", () => Effect.void),
      Effect.orDie
    )

    const spans: Array<Recorded> = []
    const tracer = recording(yield* Effect.tracer, spans)
    const parts: Array<ReturnType<typeof breakdown>> = []
    for (let i = 0; i < batchCount; i++) {
      spans.length = 0
      yield* repo.deleteBatch(selector, batchSize).pipe(
        Effect.tap((deleted) =>
          EventBus.publishAll(deleted.sessions.map((session) => ({
            _tag: "auth_session.expired" as const,
            authSessionId: session.id,
            userId: session.userId
          })))
        ),
        Effect.provideService(OutboxStore, outbox),
        sql.withTransaction,
        Effect.orDie,
        Effect.withTracer(tracer)
      )
      const transaction = spans.find((s) => s.name === "sql.transaction")
      if (transaction) parts.push(breakdown(transaction, spans))
    }
    // The first batches warm the JIT and the connection's prepared state: leave out a quarter.
    const measured = parts.slice(Math.floor(parts.length / 4))
    const table = Object.keys(measured[0] ?? {}).map((part) =>
      `${part.padEnd(26)} p50 ${
        median(measured.map((p) => p[part as keyof typeof p])).toFixed(1).padStart(6)
      } ms   max ${Math.max(...measured.map((p) => p[part as keyof typeof p])).toFixed(1).padStart(6)} ms`
    )
    console.log(`\n${measured.length} batches of ${batchSize} over ${sessions} expired sessions:\n${table.join("\n")}`)
  }).pipe(
    Effect.provide(Layer.merge(Repositories.layerPg, OutboxStore.layerPg)),
    Effect.provide(Migrations.layer),
    Effect.provide(database)
  )
}).pipe(Effect.scoped)

NodeRuntime.runMain(program)
