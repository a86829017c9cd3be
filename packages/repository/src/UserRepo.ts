import type { NotFound } from "@clinic/domain"
import { Email, EmailAlreadyRegistered, notFound, User, UserId, UserRole } from "@clinic/domain"
import { withMethodSpans } from "@clinic/foundation"
import { iso, PgErrorCode, pgErrorCode } from "@clinic/foundation/Sql"
import { SqlClient, SqlSchema } from "@effect/sql"
import { Context, DateTime, Effect, Layer, Option, Ref, Schema } from "effect"
import { MemoryDb, withRow } from "./MemoryDb.js"

export interface NewUser {
  readonly email: Email
  readonly name: string
  readonly role: UserRole
  readonly passwordHash: string
}

export interface UserCredentials {
  readonly user: User
  readonly passwordHash: string
}

export interface UserRepoShape {
  readonly insert: (user: NewUser) => Effect.Effect<User, EmailAlreadyRegistered>
  readonly findById: (id: UserId) => Effect.Effect<User, NotFound>
  /** The user with their password hash, for sign-in only. */
  readonly findCredentials: (email: Email) => Effect.Effect<Option.Option<UserCredentials>>
  /** Replaces a password hash (a rehash with today's parameters); a missing user changes nothing. */
  readonly updatePasswordHash: (id: UserId, passwordHash: string) => Effect.Effect<void>
}

// The address is not repeated: the error ends up in spans, which carry no personal data.
const emailTaken = new EmailAlreadyRegistered({ message: "An account with this email already exists" })

const CredentialsRow = Schema.Struct({ ...User.fields, passwordHash: Schema.String })

const makePg = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient

  const insertRow = SqlSchema.single({
    Request: Schema.Struct({
      id: UserId,
      email: Email,
      name: Schema.String,
      role: UserRole,
      passwordHash: Schema.String,
      createdAt: Schema.String
    }),
    Result: User,
    execute: (row) => sql`INSERT INTO users ${sql.insert(row)} RETURNING id, email, name, role, created_at`
  })
  const byId = SqlSchema.findOne({
    Request: UserId,
    Result: User,
    execute: (id) => sql`SELECT id, email, name, role, created_at FROM users WHERE id = ${id}`
  })
  const credentials = SqlSchema.findOne({
    Request: Email,
    Result: CredentialsRow,
    execute: (email) => sql`SELECT id, email, name, role, created_at, password_hash FROM users WHERE email = ${email}`
  })

  return UserRepo.of({
    insert: (user) =>
      Effect.gen(function*() {
        const now = yield* DateTime.now
        return yield* insertRow({ id: UserId.make(crypto.randomUUID()), ...user, createdAt: iso(now) })
      }).pipe(
        Effect.catchTag("SqlError", (error) =>
          pgErrorCode(error) === PgErrorCode.uniqueViolation ? Effect.fail(emailTaken) : Effect.die(error)),
        Effect.catchTags({ ParseError: Effect.die, NoSuchElementException: Effect.die }),
        Effect.withSpan("UserRepo.insert")
      ),
    findById: (id) =>
      byId(id).pipe(
        Effect.orDie,
        Effect.flatMap(Option.match({
          onNone: () => Effect.fail(notFound("User", id)),
          onSome: Effect.succeed
        })),
        Effect.withSpan("UserRepo.findById")
      ),
    findCredentials: (email) =>
      credentials(email).pipe(
        Effect.map(Option.map(({ passwordHash, ...user }) => ({ user: new User(user), passwordHash }))),
        Effect.orDie,
        Effect.withSpan("UserRepo.findCredentials")
      ),
    updatePasswordHash: (id, passwordHash) =>
      sql`UPDATE users SET password_hash = ${passwordHash} WHERE id = ${id}`.pipe(
        Effect.asVoid,
        Effect.orDie,
        Effect.withSpan("UserRepo.updatePasswordHash")
      )
  })
})

const makeMemory = Effect.gen(function*() {
  const db = yield* MemoryDb
  return UserRepo.of({
    insert: (input) =>
      Effect.gen(function*() {
        const now = yield* DateTime.now
        const user = new User({
          id: UserId.make(crypto.randomUUID()),
          email: input.email,
          name: input.name,
          role: input.role,
          createdAt: now
        })
        const inserted = yield* Ref.modify(db, (t) => {
          for (const row of t.users.values()) if (row.user.email === input.email) return [false, t] as const
          return [true, { ...t, users: withRow(t.users, user.id, { user, passwordHash: input.passwordHash }) }] as const
        })
        return inserted ? user : yield* Effect.fail(emailTaken)
      }),
    findById: (id) =>
      Ref.get(db).pipe(
        Effect.flatMap((t) => {
          const row = t.users.get(id)
          return row ? Effect.succeed(row.user) : Effect.fail(notFound("User", id))
        })
      ),
    findCredentials: (email) =>
      Ref.get(db).pipe(
        Effect.map((t) => Option.fromNullable([...t.users.values()].find((row) => row.user.email === email)))
      ),
    updatePasswordHash: (id, passwordHash) =>
      Ref.update(db, (t) => {
        const row = t.users.get(id)
        return row ? { ...t, users: withRow(t.users, id, { ...row, passwordHash }) } : t
      })
  })
}).pipe(withMethodSpans("UserRepo"))

export class UserRepo extends Context.Tag("@clinic/repository/UserRepo")<UserRepo, UserRepoShape>() {
  static readonly layerPg = Layer.effect(UserRepo, makePg)
  static readonly layerMemory = Layer.effect(UserRepo, makeMemory)
}
