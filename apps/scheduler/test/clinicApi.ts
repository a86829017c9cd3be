import { ApiConfig } from "@clinic/api/ApiConfig"
import { AuthenticationLive } from "@clinic/api/AuthenticationLive"
import { ApiLive } from "@clinic/api/Http"
import { Recordings } from "@clinic/api/Recordings"
import { ClinicApi, Email } from "@clinic/domain"
import { FileStores } from "@clinic/storage"
import { FileSystem, HttpApiBuilder, HttpApiClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeFileSystem, NodeHttpServer } from "@effect/platform-node"
import { ConfigProvider, DateTime, Effect, Layer, Redacted } from "effect"

const apiConfig = Layer.unwrapScoped(Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const mediaDir = yield* fs.makeTempDirectoryScoped({ prefix: "clinic-media-" })
  const values = new Map([["CLINIC_AUTH_SESSION_MEDIA_DIR", mediaDir]])
  return ApiConfig.withTestPasswordCost(
    ApiConfig.Default.pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(values))))
  )
})).pipe(Layer.provide(NodeFileSystem.layer))

// Recordings are not what these tests are about: their service runs on memory repositories, over
// the caller's task and outbox stores.
/** The API's real handlers and sign-in on a test HTTP server; the stores come from the caller. */
export const apiServer = HttpApiBuilder.serve().pipe(
  Layer.provide(ApiLive),
  Layer.provide(Recordings),
  Layer.provide(AuthenticationLive),
  Layer.provide(FileStores.FileStores.layerLocal.pipe(Layer.provide(NodeFileSystem.layer))),
  Layer.provideMerge(NodeHttpServer.layerTest),
  Layer.provide(apiConfig)
)

/** A therapist who signed up and signed in over HTTP: the typed client carries their token. */
export const signedInTherapist = (email: Email, name: string) =>
  Effect.gen(function*() {
    const anonymous = yield* HttpApiClient.make(ClinicApi)
    const password = "correct horse battery staple"
    yield* anonymous.auth.register({ payload: { email, name, password } })
    const { token } = yield* anonymous.auth.login({ payload: { email, password } })
    return yield* HttpApiClient.make(ClinicApi, {
      transformClient: HttpClient.mapRequest(HttpClientRequest.bearerToken(Redacted.value(token)))
    })
  })

/**
 * What a therapist does over HTTP: signs up, signs in, adds a patient with an email address,
 * books `startsAt` for 50 minutes and confirms it.
 */
export const bookAndConfirm = (startsAt: DateTime.Utc) =>
  Effect.gen(function*() {
    const therapist = yield* signedInTherapist(Email.make("dr.who@clinic.test"), "Dr Who")
    const patient = yield* therapist.patients.create({
      payload: { name: "Pat Doe", email: Email.make("pat@example.test") }
    })
    const booking = yield* therapist.bookings.create({
      headers: {},
      payload: { patientId: patient.id, startsAt, endsAt: DateTime.add(startsAt, { minutes: 50 }) }
    })
    return yield* therapist.bookings.confirm({ path: { id: booking.id } })
  })
