import { ApiConfig } from "@clinic/api/ApiConfig"
import { AuthenticationLive } from "@clinic/api/AuthenticationLive"
import { ApiLive } from "@clinic/api/Http"
import { ClinicApi, Email } from "@clinic/domain"
import { OutboxStore } from "@clinic/events"
import { Mailer } from "@clinic/mail"
import { smtpSink } from "@clinic/mail/testing/SmtpSink"
import { TaskStore } from "@clinic/queue"
import { IdempotencyRepo } from "@clinic/repository"
import * as Repositories from "@clinic/repository/Repositories"
import * as TestDatabase from "@clinic/repository/testing/TestDatabase"
import { FileSystem, HttpApiBuilder, HttpApiClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeFileSystem, NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, DateTime, Effect, Exit, Layer, Option, Redacted, Ref, Scope } from "effect"
import { BackgroundLive, TaskRegistry } from "../src/Background.js"
import { configLayer } from "./layers.js"

/** Polls in real time until `check` holds; the workers run on their own fibers. */
const eventually = <E, R>(check: Effect.Effect<boolean, E, R>, timeoutMs = 15_000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeoutMs
    while (!(yield* check)) {
      if (Date.now() > deadline) return yield* Effect.dieMessage("condition not reached in time")
      yield* Effect.sleep("20 millis")
    }
  })

const apiConfig = Layer.unwrapScoped(Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const mediaDir = yield* fs.makeTempDirectoryScoped({ prefix: "clinic-media-" })
  const values = new Map([["CLINIC_MEDIA_DIR", mediaDir], ["API_SCRYPT_LOG_N", "10"]])
  return ApiConfig.Default.pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(values))))
})).pipe(Layer.provide(NodeFileSystem.layer))

/** The real API handlers on a test server, and the stores, over one fresh Postgres database. */
const api = HttpApiBuilder.serve().pipe(
  Layer.provide(ApiLive),
  Layer.provide(AuthenticationLive),
  Layer.provideMerge(NodeHttpServer.layerTest),
  Layer.provideMerge(
    Layer.mergeAll(Repositories.layerPg, IdempotencyRepo.layerPg, OutboxStore.layerPg, TaskStore.layerPg)
  ),
  Layer.provide(apiConfig),
  Layer.provideMerge(TestDatabase.layer)
)

const clientWith = (token: Redacted.Redacted<string>) =>
  HttpApiClient.make(ClinicApi, {
    transformClient: HttpClient.mapRequest(HttpClientRequest.bearerToken(Redacted.value(token)))
  })

describe("acceptance: booking confirmation email", () => {
  it.live(
    "confirming through the API sends exactly one email, across a scheduler restart with the task queued",
    () =>
      Effect.gen(function*() {
        const sink = yield* smtpSink
        const mailer = Mailer.layerSmtp({
          host: "127.0.0.1",
          port: sink.port,
          secure: false,
          user: Option.none(),
          password: Option.none(),
          from: "Clinic <clinic@example.test>"
        })
        /** The scheduler's background (workers and event bus) in a scope of its own, to stop at will. */
        const startScheduler = (env: Record<string, string>) =>
          Effect.gen(function*() {
            const scope = yield* Scope.make()
            yield* Layer.buildWithScope(
              BackgroundLive.pipe(
                Layer.provideMerge(TaskRegistry.layer),
                Layer.provide(Layer.mergeAll(mailer, OutboxStore.layerPg, TaskStore.layerPg, Repositories.layerPg)),
                Layer.provide(configLayer({ SCHEDULER_STOP_BUDGET: "2 seconds", ...env }))
              ),
              scope
            )
            return scope
          })

        // The therapist signs up, adds a patient with an email address, books and confirms.
        const anonymous = yield* HttpApiClient.make(ClinicApi)
        const email = Email.make("dr.who@clinic.test")
        const password = "correct horse battery staple"
        yield* anonymous.auth.register({ payload: { email, name: "Dr Who", password } })
        const { token } = yield* anonymous.auth.login({ payload: { email, password } })
        const therapist = yield* clientWith(token)
        const patient = yield* therapist.patients.create({
          payload: { name: "Pat Doe", email: Email.make("pat@example.test") }
        })
        const startsAt = DateTime.add(DateTime.unsafeMake(Date.now()), { days: 3 })
        const booking = yield* therapist.bookings.create({
          headers: {},
          payload: { patientId: patient.id, startsAt, endsAt: DateTime.add(startsAt, { minutes: 50 }) }
        })
        const confirmed = yield* therapist.bookings.confirm({ path: { id: booking.id } })
        assert.strictEqual(confirmed.status, "confirmed")

        // A scheduler that relays events but does not work the email queue: the email task is queued.
        const tasks = yield* TaskStore
        const emailTasks = tasks.list({ queue: "email", name: "email.send", limit: 10 })
        const first = yield* startScheduler({ SCHEDULER_QUEUES: "maintenance" })
        yield* eventually(Effect.map(emailTasks, (t) => t.length === 1 && t[0].status === "pending"))
        yield* Scope.close(first, Exit.void)
        assert.deepStrictEqual(yield* Ref.get(sink.received), [])

        // The restarted scheduler works every queue: the queued email goes out, once.
        const second = yield* startScheduler({})
        yield* eventually(Effect.map(Ref.get(sink.received), (r) => r.length === 1))
        yield* eventually(Effect.map(emailTasks, (t) => t.length === 1 && t[0].status === "succeeded"))
        yield* Scope.close(second, Exit.void)
        // And once more: a third start finds nothing left to send.
        const third = yield* startScheduler({})
        yield* Effect.sleep("1500 millis")
        yield* Scope.close(third, Exit.void)

        const received = yield* Ref.get(sink.received)
        assert.strictEqual(received.length, 1)
        assert.deepStrictEqual(received[0].to, ["pat@example.test"])
        assert.include(received[0].raw, "Subject: Booking confirmed")
        // The 24-hour reminder waits in the queue for its time.
        const reminders = yield* tasks.list({ queue: "email", name: "email.booking-reminder", limit: 10 })
        assert.strictEqual(reminders.length, 1)
        assert.strictEqual(reminders[0].status, "pending")
        assert.strictEqual(
          reminders[0].runAt.epochMillis,
          DateTime.subtract(DateTime.unsafeMake(startsAt), { hours: 24 }).epochMillis
        )
      }).pipe(Effect.provide(api), Effect.scoped),
    60_000
  )
})
