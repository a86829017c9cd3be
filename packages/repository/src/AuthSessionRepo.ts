import type { MediaKind, NotFound } from "@clinic/domain"
import {
  AuthSession,
  AuthSessionId,
  AuthSessionMedia,
  AuthSessionMediaId,
  Email,
  notFound,
  Timestamp,
  User,
  UserId,
  UserRole
} from "@clinic/domain"
import { withMethodSpans } from "@clinic/foundation"
import { iso } from "@clinic/foundation/Sql"
import { SqlClient, SqlSchema, type Statement } from "@effect/sql"
import { Context, Data, DateTime, Effect, Layer, Option, Ref, Schema } from "effect"
import { MemoryDb, type Tables, withoutRows, withRow } from "./MemoryDb.js"

/** Which sessions a cleanup looks at. Each is served by an index on the column it orders by. */
export type SessionSelector = Data.TaggedEnum<{
  /** `expires_at < now`, oldest expiry first. */
  Expired: { readonly now: DateTime.Utc; readonly userId?: UserId }
  /** `last_active_at < before`, longest idle first. */
  Inactive: { readonly before: DateTime.Utc; readonly userId?: UserId }
}>
export const SessionSelector = Data.taggedEnum<SessionSelector>()

export interface NewAuthSession {
  readonly userId: UserId
  readonly tokenHash: string
  readonly expiresAt: DateTime.Utc
  readonly userAgent: string | null
  readonly ip: string | null
}

export interface NewAuthSessionMedia {
  readonly authSessionId: AuthSessionId
  readonly kind: MediaKind
  readonly filePath: string
  readonly sizeBytes: number
}

/** What a delete removed: the sessions, how many media rows went with them, and their files. */
export interface DeletedSessions {
  readonly sessionIds: ReadonlyArray<AuthSessionId>
  /** The deleted sessions with their users, in `sessionIds` order (what `auth_session.expired` carries). */
  readonly sessions: ReadonlyArray<{ readonly id: AuthSessionId; readonly userId: UserId }>
  readonly deletedMedia: number
  readonly mediaPaths: ReadonlyArray<string>
}

export interface AuthSessionWithUser {
  readonly session: AuthSession
  readonly user: User
}

export interface AuthSessionRepoShape {
  readonly insert: (session: NewAuthSession) => Effect.Effect<AuthSession>
  readonly findById: (id: AuthSessionId) => Effect.Effect<AuthSession, NotFound>
  /**
   * The session a token digest stands for, with its user: one query, as every authenticated
   * request asks. None when there is no such session (or, which the foreign key rules out, no user).
   */
  readonly findByTokenHash: (tokenHash: string) => Effect.Effect<Option.Option<AuthSessionWithUser>>
  readonly listByUser: (userId: UserId) => Effect.Effect<ReadonlyArray<AuthSession>>
  /** Records activity; callers throttle it, so it is not a write per request. */
  readonly touch: (id: AuthSessionId, at: DateTime.Utc) => Effect.Effect<void>
  /** Up to `limit` sessions the selector matches, in the selector's index order; changes nothing. */
  readonly list: (selector: SessionSelector, limit: number) => Effect.Effect<ReadonlyArray<AuthSession>>
  /**
   * Deletes up to `limit` sessions the selector matches, with their media, atomically. Rows that
   * another transaction holds are skipped, so concurrent cleaners never wait on each other.
   */
  readonly deleteBatch: (selector: SessionSelector, limit: number) => Effect.Effect<DeletedSessions>
  readonly deleteByIds: (ids: ReadonlyArray<AuthSessionId>) => Effect.Effect<DeletedSessions>
  readonly addMedia: (media: NewAuthSessionMedia) => Effect.Effect<AuthSessionMedia>
  readonly listMedia: (id: AuthSessionId) => Effect.Effect<ReadonlyArray<AuthSessionMedia>>
}

const DeletedRow = Schema.Struct({
  sessionIds: Schema.Array(AuthSessionId),
  userIds: Schema.Array(UserId),
  mediaPaths: Schema.Array(Schema.String)
})

// The user's columns under their own names beside the session's, as the join selects them.
const SessionWithUserRow = Schema.Struct({
  ...AuthSession.fields,
  userEmail: Email,
  userName: User.fields.name,
  userRole: UserRole,
  userCreatedAt: Timestamp
})

const toSessionWithUser = (
  { userCreatedAt, userEmail, userName, userRole, ...session }: typeof SessionWithUserRow.Type
): AuthSessionWithUser => ({
  // Decoded by the row schema already: the constructors need not check the fields again.
  session: new AuthSession(session, true),
  user: new User(
    { id: session.userId, email: userEmail, name: userName, role: userRole, createdAt: userCreatedAt },
    true
  )
})

const toDeleted = (row: typeof DeletedRow.Type): DeletedSessions => ({
  sessionIds: row.sessionIds,
  sessions: row.sessionIds.map((id, i) => ({ id, userId: row.userIds[i] })),
  deletedMedia: row.mediaPaths.length,
  mediaPaths: row.mediaPaths
})

const makePg = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient

  const selectorWhere = (selector: SessionSelector) =>
    SessionSelector.$match(selector, {
      Expired: ({ now, userId }) =>
        sql.and([sql`expires_at < ${iso(now)}`, ...(userId ? [sql`user_id = ${userId}`] : [])]),
      Inactive: ({ before, userId }) =>
        sql.and([sql`last_active_at < ${iso(before)}`, ...(userId ? [sql`user_id = ${userId}`] : [])])
    })
  const selectorOrder = (selector: SessionSelector) =>
    selector._tag === "Expired" ? sql`expires_at, id` : sql`last_active_at, id`

  const insertRow = SqlSchema.single({
    Request: Schema.Struct({
      ...AuthSession.fields,
      createdAt: Schema.String,
      lastActiveAt: Schema.String,
      expiresAt: Schema.String
    }),
    Result: AuthSession,
    execute: (row) => sql`INSERT INTO auth_sessions ${sql.insert(row)} RETURNING *`
  })
  const byId = SqlSchema.findOne({
    Request: AuthSessionId,
    Result: AuthSession,
    execute: (id) => sql`SELECT * FROM auth_sessions WHERE id = ${id}`
  })
  const byTokenHash = SqlSchema.findOne({
    Request: Schema.String,
    Result: SessionWithUserRow,
    execute: (hash) =>
      sql`SELECT s.*, u.email AS user_email, u.name AS user_name, u.role AS user_role, u.created_at AS user_created_at
        FROM auth_sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ${hash}`
  })
  const byUser = SqlSchema.findAll({
    Request: UserId,
    Result: AuthSession,
    execute: (userId) => sql`SELECT * FROM auth_sessions WHERE user_id = ${userId} ORDER BY created_at DESC, id`
  })
  // `= ANY (ARRAY(...))` rather than `IN (SELECT ...)`: the planner takes the CTE for a relation
  // of unknown size and hash-joins it against a sequential scan of the whole table (30 ms per batch
  // over 200,000 sessions, growing with the backlog); an array of ids is looked up in the index.
  const deleteWhere = (where: Statement.Fragment, order: Statement.Fragment, limit: number) =>
    SqlSchema.single({
      Request: Schema.Void,
      Result: DeletedRow,
      execute: () =>
        sql`
          WITH doomed AS (
            SELECT id FROM auth_sessions WHERE ${where} ORDER BY ${order} LIMIT ${limit} FOR UPDATE SKIP LOCKED
          ), media AS (
            DELETE FROM auth_session_media WHERE auth_session_id = ANY (ARRAY(SELECT id FROM doomed))
            RETURNING file_path
          ), sessions AS (
            DELETE FROM auth_sessions WHERE id = ANY (ARRAY(SELECT id FROM doomed)) RETURNING id, user_id
          )
          SELECT
            (SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM sessions) AS session_ids,
            (SELECT coalesce(array_agg(user_id ORDER BY id), '{}') FROM sessions) AS user_ids,
            (SELECT coalesce(array_agg(file_path ORDER BY file_path), '{}') FROM media) AS media_paths`
    })(undefined).pipe(Effect.map(toDeleted))

  const insertMedia = SqlSchema.single({
    Request: Schema.Struct({ ...AuthSessionMedia.fields, createdAt: Schema.String }),
    Result: AuthSessionMedia,
    execute: (row) => sql`INSERT INTO auth_session_media ${sql.insert(row)} RETURNING *`
  })
  const mediaBySession = SqlSchema.findAll({
    Request: AuthSessionId,
    Result: AuthSessionMedia,
    execute: (id) => sql`SELECT * FROM auth_session_media WHERE auth_session_id = ${id} ORDER BY created_at, id`
  })

  return AuthSessionRepo.of({
    insert: (session) =>
      Effect.gen(function*() {
        const now = iso(yield* DateTime.now)
        return yield* insertRow({
          id: AuthSessionId.make(crypto.randomUUID()),
          ...session,
          createdAt: now,
          lastActiveAt: now,
          expiresAt: iso(session.expiresAt)
        })
      }).pipe(Effect.orDie, Effect.withSpan("AuthSessionRepo.insert")),
    findById: (id) =>
      byId(id).pipe(
        Effect.orDie,
        Effect.flatMap(Option.match({
          onNone: () => Effect.fail(notFound("AuthSession", id)),
          onSome: Effect.succeed
        })),
        Effect.withSpan("AuthSessionRepo.findById")
      ),
    findByTokenHash: (hash) =>
      byTokenHash(hash).pipe(
        Effect.map(Option.map(toSessionWithUser)),
        Effect.orDie,
        Effect.withSpan("AuthSessionRepo.findByTokenHash")
      ),
    listByUser: (userId) => byUser(userId).pipe(Effect.orDie, Effect.withSpan("AuthSessionRepo.listByUser")),
    touch: (id, at) =>
      sql`UPDATE auth_sessions SET last_active_at = ${iso(at)} WHERE id = ${id} AND last_active_at < ${iso(at)}`.pipe(
        Effect.asVoid,
        Effect.orDie,
        Effect.withSpan("AuthSessionRepo.touch")
      ),
    list: (selector, limit) =>
      SqlSchema.findAll({
        Request: Schema.Void,
        Result: AuthSession,
        execute: () =>
          sql`SELECT * FROM auth_sessions WHERE ${selectorWhere(selector)} ORDER BY ${
            selectorOrder(selector)
          } LIMIT ${limit}`
      })(undefined).pipe(Effect.orDie, Effect.withSpan("AuthSessionRepo.list")),
    deleteBatch: (selector, limit) =>
      deleteWhere(selectorWhere(selector), selectorOrder(selector), limit).pipe(
        Effect.orDie,
        Effect.withSpan("AuthSessionRepo.deleteBatch", { attributes: { selector: selector._tag, limit } })
      ),
    deleteByIds: (ids) =>
      ids.length === 0
        ? Effect.succeed({ sessionIds: [], sessions: [], deletedMedia: 0, mediaPaths: [] })
        : deleteWhere(sql.and([sql.in("id", ids)]), sql`id`, ids.length).pipe(
          Effect.orDie,
          Effect.withSpan("AuthSessionRepo.deleteByIds")
        ),
    addMedia: (media) =>
      Effect.gen(function*() {
        const now = iso(yield* DateTime.now)
        return yield* insertMedia({ id: AuthSessionMediaId.make(crypto.randomUUID()), ...media, createdAt: now })
      }).pipe(Effect.orDie, Effect.withSpan("AuthSessionRepo.addMedia")),
    listMedia: (id) => mediaBySession(id).pipe(Effect.orDie, Effect.withSpan("AuthSessionRepo.listMedia"))
  })
})

const matches = (selector: SessionSelector) => (session: AuthSession): boolean =>
  SessionSelector.$match(selector, {
    Expired: ({ now, userId }) =>
      DateTime.lessThan(session.expiresAt, now) && (userId === undefined || session.userId === userId),
    Inactive: ({ before, userId }) =>
      DateTime.lessThan(session.lastActiveAt, before) && (userId === undefined || session.userId === userId)
  })

const orderKey = (selector: SessionSelector) => (session: AuthSession): number =>
  DateTime.toEpochMillis(selector._tag === "Expired" ? session.expiresAt : session.lastActiveAt)

const byKeyThenId = (key: (session: AuthSession) => number) => (a: AuthSession, b: AuthSession) =>
  key(a) - key(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

const makeMemory = Effect.gen(function*() {
  const db = yield* MemoryDb

  const select = (selector: SessionSelector, limit: number) =>
    Effect.map(Ref.get(db), (t) =>
      [...t.authSessions.values()]
        .filter(matches(selector))
        .sort(byKeyThenId(orderKey(selector)))
        .slice(0, limit))

  const deleteIds = (ids: ReadonlyArray<AuthSessionId>) =>
    Ref.modify(db, (t): readonly [DeletedSessions, Tables] => {
      const doomed = new Set(ids.filter((id) => t.authSessions.has(id)))
      const media = [...t.authSessionMedia.values()].filter((m) => doomed.has(m.authSessionId))
      const mediaPaths = media.map((m) => m.filePath).sort()
      const sessionIds = [...doomed].sort()
      return [
        {
          sessionIds,
          sessions: sessionIds.map((id) => ({ id, userId: t.authSessions.get(id)!.userId })),
          deletedMedia: media.length,
          mediaPaths
        },
        {
          ...t,
          authSessions: withoutRows(t.authSessions, doomed),
          authSessionMedia: withoutRows(t.authSessionMedia, media.map((m) => m.id))
        }
      ]
    })

  return AuthSessionRepo.of({
    insert: (input) =>
      Effect.gen(function*() {
        const now = yield* DateTime.now
        const session = new AuthSession({
          id: AuthSessionId.make(crypto.randomUUID()),
          ...input,
          createdAt: now,
          lastActiveAt: now
        })
        yield* Ref.update(db, (t) => ({ ...t, authSessions: withRow(t.authSessions, session.id, session) }))
        return session
      }),
    findById: (id) =>
      Effect.flatMap(Ref.get(db), (t) => {
        const session = t.authSessions.get(id)
        return session ? Effect.succeed(session) : Effect.fail(notFound("AuthSession", id))
      }),
    findByTokenHash: (hash) =>
      Effect.map(Ref.get(db), (t) =>
        Option.flatMap(
          Option.fromNullable([...t.authSessions.values()].find((s) => s.tokenHash === hash)),
          (session) => Option.map(Option.fromNullable(t.users.get(session.userId)), ({ user }) => ({ session, user }))
        )),
    listByUser: (userId) =>
      Effect.map(Ref.get(db), (t) =>
        [...t.authSessions.values()]
          .filter((s) => s.userId === userId)
          .sort((a, b) => DateTime.toEpochMillis(b.createdAt) - DateTime.toEpochMillis(a.createdAt))),
    touch: (id, at) =>
      Ref.update(db, (t) => {
        const session = t.authSessions.get(id)
        if (!session || !DateTime.lessThan(session.lastActiveAt, at)) return t
        return { ...t, authSessions: withRow(t.authSessions, id, new AuthSession({ ...session, lastActiveAt: at })) }
      }),
    list: select,
    deleteBatch: (selector, limit) =>
      Effect.flatMap(select(selector, limit), (sessions) => deleteIds(sessions.map((s) => s.id))),
    deleteByIds: deleteIds,
    addMedia: (input) =>
      Effect.gen(function*() {
        const now = yield* DateTime.now
        const media = new AuthSessionMedia({
          id: AuthSessionMediaId.make(crypto.randomUUID()),
          ...input,
          createdAt: now
        })
        yield* Ref.update(db, (t) => ({ ...t, authSessionMedia: withRow(t.authSessionMedia, media.id, media) }))
        return media
      }),
    listMedia: (id) =>
      Effect.map(Ref.get(db), (t) =>
        [...t.authSessionMedia.values()]
          .filter((m) => m.authSessionId === id)
          .sort((a, b) => DateTime.toEpochMillis(a.createdAt) - DateTime.toEpochMillis(b.createdAt)))
  })
}).pipe(withMethodSpans("AuthSessionRepo"))

export class AuthSessionRepo extends Context.Tag("@clinic/repository/AuthSessionRepo")<
  AuthSessionRepo,
  AuthSessionRepoShape
>() {
  static readonly layerPg = Layer.effect(AuthSessionRepo, makePg)
  static readonly layerMemory = Layer.effect(AuthSessionRepo, makeMemory)
}
