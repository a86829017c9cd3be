import { ExternalCalendarSync } from "@clinic/calendar"
import { OutboxStore } from "@clinic/events"
import { smtpMailer, smtpSink } from "@clinic/mail/testing/SmtpSink"
import { TaskStore } from "@clinic/queue"
import { IdempotencyRepo } from "@clinic/repository"
import * as Repositories from "@clinic/repository/Repositories"
import * as TestDatabase from "@clinic/repository/testing/TestDatabase"
import { Telemetry } from "@clinic/telemetry"
import * as OtlpReceiver from "@clinic/telemetry/testing/OtlpReceiver"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, DateTime, Effect, Layer } from "effect"
import { BackgroundLive, TaskRegistry } from "../src/Background.js"
import { apiServer, bookAndConfirm } from "./clinicApi.js"
import { configLayer } from "./layers.js"

/** The exporter as the apps build it, pointed at `endpoint` (JSON, so the receiver can read it). */
const telemetry = (endpoint: string) =>
  Telemetry.layer({ name: "clinic-test", version: "0.0.0" }).pipe(
    Layer.provide(Layer.effect(
      Telemetry.TelemetryConfig,
      Telemetry.TelemetryConfig.load.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(
        new Map([
          ["OTEL_EXPORTER_OTLP_ENDPOINT", endpoint],
          ["OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"],
          ["OTEL_BSP_SCHEDULE_DELAY", "50"]
        ])
      )))
    ))
  )

describe("traces", () => {
  it.live(
    "one trace runs from the HTTP request through the outbox, the delivery, the email task and the send",
    () =>
      Effect.gen(function*() {
        const receiver = yield* OtlpReceiver.make
        const sink = yield* smtpSink
        yield* Effect.gen(function*() {
          // The scheduler's background (relay, deliveries, email worker) beside the API, as two apps would run.
          yield* Layer.build(
            BackgroundLive.pipe(
              Layer.provideMerge(TaskRegistry.layer),
              Layer.provide(
                Layer.mergeAll(smtpMailer(sink), OutboxStore.layerPg, TaskStore.layerPg, ExternalCalendarSync.layer)
                  .pipe(Layer.provideMerge(Repositories.layerPg))
              ),
              Layer.provide(configLayer({ SCHEDULER_STOP_BUDGET: "2 seconds" }))
            )
          )
          yield* bookAndConfirm(DateTime.add(DateTime.unsafeMake(Date.now()), { days: 3 }))

          // The send's span and every span above it up to the root: exports come in batches, and
          // the outer spans end last.
          const chain = yield* OtlpReceiver.eventually(Effect.map(receiver.spans, (spans) => {
            const send = spans.find((span) => span.name === "Mailer.send")
            if (send === undefined) return undefined
            const chain = OtlpReceiver.ancestry(spans, send)
            return chain[chain.length - 1].parentSpanId === undefined ? chain : undefined
          }))

          assert.strictEqual(new Set(chain.map((span) => span.traceId)).size, 1)
          const steps = chain.map((span) =>
            span.name === "TaskWorker.execute" ? `${span.name} ${String(span.attributes.task)}` : span.name
          ).filter((name) => /^(Mailer|TaskWorker|TaskQueue|EventBus|Bookings)\.|^http\.(server|client)/.test(name))
            .reverse()
          assert.deepStrictEqual(steps, [
            "http.client POST",
            "http.server POST",
            "Bookings.confirm",
            "EventBus.publish",
            "EventBus.relay",
            "TaskQueue.enqueue",
            "TaskWorker.execute event:booking-emails",
            "TaskQueue.enqueue",
            "TaskWorker.execute email.send",
            "Mailer.send"
          ])
          const server = chain.find((span) => span.name === "http.server POST")!
          assert.strictEqual(server.attributes["http.response.status_code"], 200)
          assert.match(String(server.attributes["url.path"]), /^\/bookings\/[0-9a-f-]+\/confirm$/)

          // Nothing personal in any attribute of any span of the run: the patient's and the
          // therapist's names and addresses, the bearer token and the bodies stay out.
          const everything = JSON.stringify((yield* receiver.spans).map((span) => span.attributes))
          for (const personal of ["pat@example.test", "Pat Doe", "dr.who@clinic.test", "Dr Who", "Bearer"]) {
            assert.notInclude(everything, personal)
          }
        }).pipe(
          Effect.scoped,
          // The API and the stores over one fresh database, all above the exporter, as in the apps.
          Effect.provide(
            apiServer.pipe(
              Layer.provideMerge(
                Layer.mergeAll(Repositories.layerPg, IdempotencyRepo.layerPg, OutboxStore.layerPg, TaskStore.layerPg)
              ),
              Layer.provideMerge(TestDatabase.layer),
              Layer.provide(telemetry(receiver.endpoint))
            )
          )
        )
      }).pipe(Effect.scoped),
    60_000
  )
})
