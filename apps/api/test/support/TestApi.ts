import { ClinicApi, type User } from "@clinic/domain"
import { OutboxStore } from "@clinic/events"
import { TaskStore } from "@clinic/queue"
import { IdempotencyRepo, layerMemory as RepositoriesMemory, layerPg as RepositoriesPg } from "@clinic/repository"
import { makeTherapist } from "@clinic/repository/testing/Fixtures"
import * as TestDatabase from "@clinic/repository/testing/TestDatabase"
import { at, startClock, T0 } from "@clinic/testing/TestTime"
import { HttpApiClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Duration, Effect, Layer } from "effect"
import { ServeLive } from "../../src/Http.js"
import { RecordingsMemory, RecordingsPg } from "../../src/Recordings.js"
import { configLayer, recordingsSettings } from "../TestApi.js"
import { TestAuthentication } from "./TestAuthentication.js"

export { at, makeTherapist, startClock, T0 }

export const testConfig = (bookingHold: Duration.DurationInput = Duration.minutes(15)) =>
  configLayer({ BOOKING_HOLD: `${Duration.toMillis(bookingHold)} millis` })

/** The real API over the given repositories (and test sign-in), on a test HTTP server. */
export const serve = <A, E, R, A2, E2, R2>(
  repositories: Layer.Layer<A, E, R>,
  recordings: Layer.Layer<A2, E2, R2>,
  bookingHold?: Duration.DurationInput
) =>
  ServeLive.pipe(
    Layer.provide(TestAuthentication),
    Layer.provide(recordingsSettings(recordings, {})),
    Layer.provideMerge(repositories),
    Layer.provideMerge(NodeHttpServer.layerTest),
    Layer.provide(testConfig(bookingHold))
  )

/**
 * The real API over in-memory repositories, on a test HTTP server. Their `SqlClient` runs no
 * query (`/ready` is not what these tests are about) and its transactions are the identity.
 */
export const memoryRepositories = Layer.mergeAll(
  RepositoriesMemory,
  IdempotencyRepo.layerMemory,
  OutboxStore.layerMemory,
  TaskStore.layerMemory
)
export const memoryServer = (bookingHold?: Duration.DurationInput) =>
  serve(memoryRepositories, RecordingsMemory, bookingHold)

/** The real API over a fresh Postgres database cloned from the migrated template. */
export const postgresServer = (bookingHold?: Duration.DurationInput) =>
  serve(
    Layer.mergeAll(RepositoriesPg, IdempotencyRepo.layerPg, OutboxStore.layerPg, TaskStore.layerPg).pipe(
      Layer.provideMerge(TestDatabase.layer)
    ),
    RecordingsPg,
    bookingHold
  )

/** A typed client signed in as `user` (the test middleware takes the user id as token). */
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

/** `POST /bookings` by hand, to see the raw status and JSON body a client gets. */
export const postBooking = (token: string, key: string | undefined, body: unknown) =>
  Effect.gen(function*() {
    const request = HttpClientRequest.post("/bookings").pipe(
      HttpClientRequest.bearerToken(token),
      HttpClientRequest.setHeaders(key === undefined ? {} : { "idempotency-key": key }),
      HttpClientRequest.bodyUnsafeJson(body)
    )
    const response = yield* HttpClient.execute(request)
    return { status: response.status, body: (yield* response.json) as any }
  })
