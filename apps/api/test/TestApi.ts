import { ClinicApi } from "@clinic/domain"
import { OutboxStore } from "@clinic/events"
import { TaskStore } from "@clinic/queue"
import { IdempotencyRepo } from "@clinic/repository"
import * as Repositories from "@clinic/repository/Repositories"
import { FileSystem, HttpApiBuilder, HttpApiClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeFileSystem, NodeHttpServer } from "@effect/platform-node"
import { SqlClient, SqlError } from "@effect/sql"
import type { PgClient } from "@effect/sql-pg"
import type { Redacted } from "effect"
import { ConfigProvider, Effect, Layer, Redacted as R } from "effect"
import { ApiConfig } from "../src/ApiConfig.js"
import { AuthenticationLive } from "../src/AuthenticationLive.js"
import { ApiLive } from "../src/Http.js"
import { RecordingsMemory, RecordingsPg } from "../src/Recordings.js"

/**
 * `ApiConfig` from the given settings over test defaults: a media folder of its own, removed with
 * the layer, and a cheap scrypt cost (the encoded hash carries it, so verification is unchanged).
 */
export const configLayer = (settings: Record<string, string> = {}) =>
  Layer.unwrapScoped(Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const mediaDir = yield* fs.makeTempDirectoryScoped({ prefix: "clinic-media-" })
    const values = new Map(Object.entries({ CLINIC_MEDIA_DIR: mediaDir, API_SCRYPT_LOG_N: "10", ...settings }))
    return ApiConfig.Default.pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(values))))
  })).pipe(Layer.provide(NodeFileSystem.layer))

// The health group needs a SqlClient; tests on memory repositories never call /ready.
const noDatabase = Layer.succeed(
  SqlClient.SqlClient,
  new Proxy(() => {}, {
    apply: () => Effect.fail(new SqlError.SqlError({ message: "no database in memory tests" }))
  }) as unknown as SqlClient.SqlClient
)

const server = HttpApiBuilder.serve().pipe(
  Layer.provide(ApiLive),
  Layer.provide(AuthenticationLive),
  Layer.provideMerge(NodeHttpServer.layerTest)
)

/**
 * The recordings services read their configuration from `settings` over test defaults: an audio
 * folder of their own (removed with the layer) and no provider unless the test names one.
 */
export const recordingsSettings = <A, E, R>(layer: Layer.Layer<A, E, R>, settings: Record<string, string>) =>
  Layer.unwrapScoped(Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "clinic-recordings-" })
    const values = new Map(
      Object.entries({ CLINIC_RECORDINGS_DIR: dir, CLINIC_RECORDINGS_WORKER: "false", ...settings })
    )
    return layer.pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(values))))
  })).pipe(Layer.provide(NodeFileSystem.layer))

/** The real API on a test server over in-memory repositories, whose `MemoryDb` tests can read. */
export const memoryLayer = (settings: Record<string, string> = {}) =>
  server.pipe(
    Layer.provideMerge(recordingsSettings(RecordingsMemory, settings)),
    Layer.provideMerge(
      Layer.mergeAll(
        Repositories.layerMemory,
        IdempotencyRepo.layerMemory,
        OutboxStore.layerMemory,
        TaskStore.layerMemory
      )
    ),
    Layer.provideMerge(configLayer(settings)),
    Layer.provide(noDatabase)
  )

/** The real API with everything on Postgres, recordings included (their tables, queue and outbox). */
export const pgLayer = <E>(
  database: Layer.Layer<SqlClient.SqlClient | PgClient.PgClient, E>,
  settings: Record<string, string> = {}
) =>
  server.pipe(
    Layer.provideMerge(recordingsSettings(RecordingsPg, settings)),
    Layer.provideMerge(
      Layer.mergeAll(Repositories.layerPg, IdempotencyRepo.layerPg, OutboxStore.layerPg, TaskStore.layerPg)
    ),
    Layer.provideMerge(configLayer(settings)),
    Layer.provideMerge(database)
  )

export const recordingsPgLayer = pgLayer

/** The typed client, sending `token` as its bearer token when given. */
export const client = (token?: Redacted.Redacted<string>) =>
  HttpApiClient.make(ClinicApi, {
    transformClient: token === undefined
      ? undefined
      : HttpClient.mapRequest(HttpClientRequest.bearerToken(R.value(token)))
  })
