import { OutboxStore } from "@clinic/events"
import { TaskStore } from "@clinic/queue"
import { RecordingsConfig } from "@clinic/recordings"
import { IdempotencyRepo, layerMemory as RepositoriesMemory, layerPg as RepositoriesPg } from "@clinic/repository"
import * as TestDatabase from "@clinic/repository/testing/TestDatabase"
import type { HttpClientResponse } from "@effect/platform"
import { FileSystem, HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import type { SqlClient } from "@effect/sql"
import type { PgClient } from "@effect/sql-pg"
import { DateTime, Duration, Effect, Layer, Schedule } from "effect"
import * as Path from "node:path"
import { ServeLive } from "../../src/Http.js"
import { RecordingsMemory, RecordingsPg } from "../../src/Recordings.js"
import { recordingsSettings } from "../TestApi.js"
import { testConfig } from "./TestApi.js"
import { TestAuthentication } from "./TestAuthentication.js"

/**
 * The real API (test sign-in: bearer token = user id) on a test server, with the recordings
 * services exposed to the test. `settings` are the recordings' environment variables; the worker
 * is off unless a test starts one (`Pipeline.workerLayer`, `Worker.drain`).
 */
export const memoryRecordings = (settings: Record<string, string> = {}) =>
  ServeLive.pipe(
    Layer.provide(TestAuthentication),
    Layer.provideMerge(recordingsSettings(RecordingsMemory, settings)),
    Layer.provideMerge(
      Layer.mergeAll(
        RepositoriesMemory,
        IdempotencyRepo.layerMemory,
        OutboxStore.layerMemory,
        TaskStore.layerMemory
      )
    ),
    Layer.provideMerge(NodeHttpServer.layerTest),
    Layer.provide(testConfig())
  )

/** `database` defaults to a fresh one; pass a built one to restart the API on the same data. */
export const postgresRecordings = <E>(
  settings: Record<string, string> = {},
  database: Layer.Layer<SqlClient.SqlClient | PgClient.PgClient, E> = TestDatabase.layer
) =>
  ServeLive.pipe(
    Layer.provide(TestAuthentication),
    Layer.provideMerge(recordingsSettings(RecordingsPg, settings)),
    Layer.provideMerge(Layer.mergeAll(RepositoriesPg, IdempotencyRepo.layerPg, OutboxStore.layerPg, TaskStore.layerPg)),
    Layer.provideMerge(database),
    Layer.provideMerge(NodeHttpServer.layerTest),
    Layer.provide(testConfig())
  )

export interface FilePart {
  readonly name: string
  readonly type: string
  readonly bytes: Uint8Array
}

export interface Answer {
  readonly status: number
  readonly headers: Record<string, string>
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

export const get = (token: string, url: string) => send(token, HttpClientRequest.get(url))
export const post = (token: string, url: string) => send(token, HttpClientRequest.post(url))
export const del = (token: string, url: string) => send(token, HttpClientRequest.del(url))
export const putJson = (token: string, url: string, body: unknown) =>
  send(token, HttpClientRequest.put(url).pipe(HttpClientRequest.bodyUnsafeJson(body)))

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
