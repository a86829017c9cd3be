/**
 * The one harness of the API's tests: the real API (`ServeLive`: error shape, request ids, every
 * group) on `NodeHttpServer.layerTest`, over memory or Postgres stores, with the helpers tests
 * use to call it. Memory setups take the memory `SqlClient` from `Repositories.layerMemory`
 * (transactions are the identity, a query fails like a database that is down).
 */
import {
  Authentication,
  AuthSession,
  AuthSessionId,
  ClinicApi,
  Unauthorized,
  type User,
  type UserId
} from "@clinic/domain"
import { OutboxStore } from "@clinic/events"
import { TaskStore } from "@clinic/queue"
import { RecordingsConfig } from "@clinic/recordings"
import { IdempotencyRepo, UserRepo } from "@clinic/repository"
import * as Repositories from "@clinic/repository/Repositories"
import { makeTherapist } from "@clinic/repository/testing/Fixtures"
import * as TestDatabase from "@clinic/repository/testing/TestDatabase"
import { FileStores, StorageConfig } from "@clinic/storage"
import { at, startClock, T0 } from "@clinic/testing/TestTime"
import type { HttpClientResponse } from "@effect/platform"
import { FileSystem, HttpApiClient, HttpClient, HttpClientRequest, HttpServer } from "@effect/platform"
import { NodeFileSystem, NodeHttpServer } from "@effect/platform-node"
import type { SqlClient } from "@effect/sql"
import type { PgClient } from "@effect/sql-pg"
import { ConfigProvider, DateTime, Duration, Effect, Layer, Redacted, Schedule } from "effect"
import * as Net from "node:net"
import * as Path from "node:path"
import { ApiConfig } from "../../src/ApiConfig.js"
import { AuthenticationLive } from "../../src/AuthenticationLive.js"
import { ServeLive } from "../../src/Http.js"
import { Recordings } from "../../src/Recordings.js"

export { at, makeTherapist, startClock, T0 }

// ---- configuration -------------------------------------------------------------------------

/**
 * `settings` over the test defaults, as the process environment: a media and an audio folder of
 * the test's own (removed with the layer) and no recordings worker unless a test starts one.
 */
const withSettings = <A, E, R>(layer: Layer.Layer<A, E, R>, settings: Record<string, string>) =>
  Layer.unwrapScoped(Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const mediaDir = yield* fs.makeTempDirectoryScoped({ prefix: "clinic-media-" })
    const recordingsDir = yield* fs.makeTempDirectoryScoped({ prefix: "clinic-recordings-" })
    const values = new Map(Object.entries({
      CLINIC_AUTH_SESSION_MEDIA_DIR: mediaDir,
      CLINIC_RECORDINGS_DIR: recordingsDir,
      CLINIC_RECORDINGS_WORKER: "false",
      ...settings
    }))
    return layer.pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(values))))
  })).pipe(Layer.provide(NodeFileSystem.layer))

/**
 * `ApiConfig` from `settings` over the test defaults, with a cheap scrypt cost for new hashes
 * (each hash carries its parameters, so verification is unchanged).
 */
export const testConfig = (settings: Record<string, string> = {}) =>
  ApiConfig.withTestPasswordCost(withSettings(ApiConfig.Default, settings))

/** The file stores `settings` choose: local folders by default, a bucket with `CLINIC_STORAGE=s3`. */
export const testStorage = (settings: Record<string, string> = {}) =>
  withSettings(
    FileStores.FileStores.layer.pipe(Layer.provideMerge(StorageConfig.StorageConfig.layer)),
    settings
  )

// ---- sign-in -------------------------------------------------------------------------------

/**
 * Test sign-in: the bearer token is the id of a user in the `UserRepo`. Enough to exercise
 * ownership rules; the real token handling (`AuthenticationLive`) has tests of its own
 * (`signIn: "tokens"`).
 */
export const TestAuthentication = Layer.effect(
  Authentication,
  Effect.gen(function*() {
    const users = yield* UserRepo
    return Authentication.of({
      bearer: (token) =>
        Effect.gen(function*() {
          const user = yield* users.findById(Redacted.value(token) as UserId)
          const now = yield* DateTime.now
          const session = new AuthSession({
            id: AuthSessionId.make(crypto.randomUUID()),
            userId: user.id,
            tokenHash: "test",
            createdAt: now,
            lastActiveAt: now,
            expiresAt: DateTime.add(now, { days: 1 }),
            userAgent: null,
            ip: null
          })
          return { user, session }
        }).pipe(Effect.catchTag("NotFound", () => Effect.fail(new Unauthorized({ message: "Unknown bearer token" }))))
    })
  })
)

// ---- servers -------------------------------------------------------------------------------

/** Every store of the API in memory; `MemoryDb` and the memory `SqlClient` included. */
export const memoryStores = Layer.mergeAll(
  Repositories.layerMemory,
  IdempotencyRepo.layerMemory,
  OutboxStore.layerMemory,
  TaskStore.layerMemory
)

/** Every store of the API on `database` (by default a fresh one cloned from the migrated template). */
export const postgresStores = <E>(
  database: Layer.Layer<SqlClient.SqlClient | PgClient.PgClient, E> = TestDatabase.layer
) =>
  Layer.mergeAll(Repositories.layerPg, IdempotencyRepo.layerPg, OutboxStore.layerPg, TaskStore.layerPg).pipe(
    Layer.provideMerge(database)
  )

export interface ServerOptions {
  /** Environment variables of the API and its recordings feature, over the test defaults. */
  readonly settings?: Record<string, string>
  /** `"user-id"` (default): the bearer token is a user id; `"tokens"`: real sessions and tokens. */
  readonly signIn?: "user-id" | "tokens"
}

/**
 * The real API over `stores` and the `recordings` services, on a test HTTP server. The stores,
 * the recordings services, `ApiConfig` and the client stay reachable from the test.
 */
export const serve = <A, E, R, A2, E2, R2>(
  stores: Layer.Layer<A, E, R>,
  recordings: Layer.Layer<A2, E2, R2>,
  options: ServerOptions = {}
) =>
  ServeLive.pipe(
    Layer.provide(options.signIn === "tokens" ? AuthenticationLive : TestAuthentication),
    Layer.provideMerge(withSettings(recordings, options.settings ?? {})),
    Layer.provideMerge(testStorage(options.settings)),
    Layer.provideMerge(stores),
    Layer.provideMerge(NodeHttpServer.layerTest),
    Layer.provideMerge(testConfig(options.settings))
  )

/** The real API over in-memory stores, on a test HTTP server. */
export const memoryServer = (options: ServerOptions = {}) => serve(memoryStores, Recordings, options)

/**
 * The real API on Postgres, recordings included; `database` defaults to a fresh one (pass a built
 * one to restart the API on the same data).
 */
export const postgresServer = <E = never>(
  options: ServerOptions = {},
  database?: Layer.Layer<SqlClient.SqlClient | PgClient.PgClient, E>
) => serve(postgresStores(database), Recordings, options)

// ---- clients -------------------------------------------------------------------------------

/** The typed client, sending `token` (a real one: `signIn: "tokens"`) as its bearer token when given. */
export const client = (token?: Redacted.Redacted<string>) =>
  HttpApiClient.make(ClinicApi, {
    transformClient: token === undefined
      ? undefined
      : HttpClient.mapRequest(HttpClientRequest.bearerToken(Redacted.value(token)))
  })

/** A typed client signed in as `user` (test sign-in: the user id is the token). */
export const clientFor = (user: User) =>
  HttpApiClient.make(ClinicApi, {
    transformClient: HttpClient.mapRequest(HttpClientRequest.bearerToken(user.id))
  })

/** A therapist with a typed client and one patient of theirs. */
export const therapistWithPatient = Effect.gen(function*() {
  const user = yield* makeTherapist()
  const client = yield* clientFor(user)
  const patient = yield* client.patients.create({ payload: { name: "Pat Patient" } })
  return { user, client, patient }
})

export interface Answer {
  readonly status: number
  readonly headers: Record<string, string>
  /**
   * The raw JSON a client gets, read field by field: decoding it with the domain schemas would
   * hide the very encoding these tests check.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- raw response JSON (see above)
  readonly body: any
}

const answer = (response: HttpClientResponse.HttpClientResponse) =>
  Effect.map(
    response.text,
    (text): Answer => ({
      status: response.status,
      headers: response.headers,
      body: text === "" ? null : JSON.parse(text)
    })
  )

/** Sends a request as `token` and returns the raw status, headers and JSON body. */
export const send = (token: string, request: HttpClientRequest.HttpClientRequest) =>
  Effect.flatMap(HttpClient.HttpClient, (client) => client.execute(HttpClientRequest.bearerToken(request, token))).pipe(
    Effect.flatMap(answer),
    Effect.scoped,
    Effect.orDie
  )

export const get = (token: string, url: string) => send(token, HttpClientRequest.get(url))
export const post = (token: string, url: string) => send(token, HttpClientRequest.post(url))
export const del = (token: string, url: string) => send(token, HttpClientRequest.del(url))
export const putJson = (token: string, url: string, body: unknown) =>
  send(token, HttpClientRequest.put(url).pipe(HttpClientRequest.bodyUnsafeJson(body)))

/** `POST /bookings` by hand, to see the raw status and JSON body a client gets. */
export const postBooking = (token: string, key: string | undefined, body: unknown) =>
  send(
    token,
    HttpClientRequest.post("/bookings").pipe(
      HttpClientRequest.setHeaders(key === undefined ? {} : { "idempotency-key": key }),
      HttpClientRequest.bodyUnsafeJson(body)
    )
  ).pipe(Effect.map(({ body, status }) => ({ status, body })))

// ---- recordings ----------------------------------------------------------------------------

export interface FilePart {
  readonly name: string
  readonly type: string
  readonly bytes: Uint8Array
}

/** `POST /recordings` with the given fields and files, in the order given. */
export const upload = (
  token: string,
  parts: ReadonlyArray<readonly [string, string | FilePart]>
) => {
  const form = new FormData()
  for (const [key, value] of parts) {
    if (typeof value === "string") form.append(key, value)
    else form.append(key, new Blob([value.bytes], { type: value.type }), value.name)
  }
  return send(token, HttpClientRequest.post("/recordings").pipe(HttpClientRequest.bodyFormData(form)))
}

/** Every file under the recordings folder, relative to it (unfinished `.<id>.part` files included). */
export const storedFiles = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const { storageDir } = yield* RecordingsConfig.RecordingsConfig
  const entries = yield* fs.readDirectory(storageDir, { recursive: true }).pipe(Effect.orDie)
  const files: Array<string> = []
  for (const entry of entries) {
    const info = yield* fs.stat(Path.join(storageDir, entry)).pipe(Effect.orDie)
    if (info.type === "File") files.push(entry)
  }
  return files.sort()
})

/** The types of the events in the outbox not yet handed to subscribers (and hands them over). */
export const publishedTypes = Effect.gen(function*() {
  const store = yield* OutboxStore
  let types: ReadonlyArray<string> = []
  yield* store.dispatch(100, yield* DateTime.now, (events) =>
    Effect.sync(() => {
      types = events.map((event) => event.type)
    }))
  return types
})

/** Repeats `effect` (real time) until `done` holds, failing the test after `timeout`. */
export const pollUntil = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  done: (a: A) => boolean,
  timeout: Duration.DurationInput
) =>
  effect.pipe(
    Effect.filterOrFail(done, () => "not yet" as const),
    Effect.retry({ while: (e) => e === "not yet", schedule: Schedule.spaced("50 millis") }),
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () => new Error(`not done within ${Duration.format(timeout)}`)
    }),
    Effect.orDie
  )

// ---- raw HTTP ------------------------------------------------------------------------------

export interface RawAnswer {
  /** The status, or `undefined` when the server closed the connection without one. */
  readonly status: number | undefined
  readonly head: string
  readonly body: string
  /** The connection was closed by the server. */
  readonly closed: boolean
}

/**
 * Writes `chunks` to the test server over a plain TCP connection (what no HTTP client would
 * send: a wrong Content-Length, a body that stops) and reads what comes back until the server
 * closes the connection or `within` passes. `end: false` keeps the client's side open.
 */
export const rawExchange = (
  chunks: ReadonlyArray<string | Uint8Array>,
  options: { readonly end?: boolean; readonly within?: Duration.DurationInput } = {}
) =>
  Effect.gen(function*() {
    const server = yield* HttpServer.HttpServer
    const port = server.address._tag === "TcpAddress" ? server.address.port : 0
    return yield* Effect.async<RawAnswer>((resume) => {
      const socket = Net.connect(port, "127.0.0.1")
      const received: Array<Buffer> = []
      let settled = false
      const finish = (closed: boolean) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        socket.destroy()
        const text = Buffer.concat(received).toString("utf8")
        const split = text.indexOf("\r\n\r\n")
        const head = split < 0 ? text : text.slice(0, split)
        const status = /^HTTP\/1\.1 (\d{3})/.exec(head)
        resume(Effect.succeed({
          status: status === null ? undefined : Number(status[1]),
          head,
          body: split < 0 ? "" : text.slice(split + 4),
          closed
        }))
      }
      const timer = setTimeout(() => finish(false), Duration.toMillis(options.within ?? "5 seconds"))
      socket.on("data", (chunk) => received.push(chunk))
      socket.on("error", () => finish(true))
      socket.on("close", () => finish(true))
      socket.on("connect", () => {
        for (const chunk of chunks) socket.write(chunk)
        if (options.end ?? true) socket.end()
      })
      return Effect.sync(() => finish(false))
    })
  })

/** A raw HTTP/1.1 request head (`Host` and `Authorization` included) for `rawExchange`. */
export const rawHead = (method: string, path: string, token: string, headers: Record<string, string | number>) =>
  [
    `${method} ${path} HTTP/1.1`,
    "host: localhost",
    `authorization: Bearer ${token}`,
    ...Object.entries(headers).map(([key, value]) => `${key}: ${value}`)
  ].join("\r\n") + "\r\n\r\n"
