import { Mailer } from "@clinic/mail"
import { TaskQueue, Worker } from "@clinic/queue"
import { SchedulerEngine } from "@clinic/scheduler-engine"
import { Promtool } from "@clinic/testing"
import { advance, startClock, T0 } from "@clinic/testing/TestTime"
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Layer } from "effect"
import { AdminServeLive } from "../src/AdminHttp.js"
import { maintenancePrune, TaskRegistry } from "../src/Background.js"
import { BOOKING_HOLD_EXPIRY } from "../src/Jobs.js"
import { memoryApp } from "./layers.js"

const TOKEN = "s3cret"

const noMail = Layer.succeed(Mailer, Mailer.of({ send: () => Effect.dieMessage("no mail in this test") }))

const server = AdminServeLive.pipe(
  Layer.provideMerge(NodeHttpServer.layerTest),
  Layer.provideMerge(memoryApp({ SCHEDULER_ADMIN_TOKEN: TOKEN })),
  Layer.provideMerge(noMail)
)

const call = (path: string, token?: string) =>
  Effect.gen(function*() {
    const request = HttpClientRequest.get(path)
    const response = yield* HttpClient.execute(
      token === undefined ? request : HttpClientRequest.bearerToken(request, token)
    )
    return { status: response.status, text: yield* response.text }
  })

/** The metrics text, checked by promtool. */
const metrics = Effect.gen(function*() {
  const { status, text } = yield* call("/metrics", TOKEN)
  assert.strictEqual(status, 200)
  yield* Promtool.checkMetrics(text)
  return text
})

/** The value of the sample `series` (name and labels, as written), 0 when absent. */
const sample = (text: string, series: string) => {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `))
  return line === undefined ? 0 : Number(line.slice(series.length + 1))
}

describe("scheduler GET /metrics", () => {
  it.scoped("job runs by outcome, lateness, last success, tasks and admin requests; passes promtool", () =>
    Effect.gen(function*() {
      yield* startClock
      assert.strictEqual((yield* call("/metrics")).status, 401)
      const before = yield* metrics
      const delta = (after: string, series: string) => sample(after, series) - sample(before, series)

      const engine = yield* SchedulerEngine
      yield* engine.start
      yield* advance("1 minute")
      assert.strictEqual((yield* engine.job(BOOKING_HOLD_EXPIRY)).recentRuns[0]?.outcome, "succeeded")
      assert.strictEqual((yield* call(`/jobs/${BOOKING_HOLD_EXPIRY}`, TOKEN)).status, 200)
      assert.strictEqual((yield* call("/jobs/no-such-job", TOKEN)).status, 404)
      yield* TaskQueue.enqueue(maintenancePrune, {}, { idempotencyKey: `metrics-${crypto.randomUUID()}` })
      yield* Worker.drain(yield* TaskRegistry, "maintenance")
      const after = yield* metrics

      const job = `job="${BOOKING_HOLD_EXPIRY}"`
      assert.strictEqual(delta(after, `clinic_scheduler_job_runs_total{${job},outcome="succeeded"}`), 1)
      assert.strictEqual(delta(after, `clinic_scheduler_job_runs_total{${job},outcome="failed"}`), 0)
      // Started on its tick (the TestClock does not move while it runs): in the lowest bucket.
      assert.strictEqual(delta(after, `clinic_scheduler_job_lateness_seconds_count{${job}}`), 1)
      assert.strictEqual(delta(after, `clinic_scheduler_job_lateness_seconds_bucket{${job},le="0.01"}`), 1)
      assert.strictEqual(
        sample(after, `clinic_scheduler_job_last_success_timestamp_seconds{${job}}`),
        DateTime.toEpochMillis(T0) / 1000 + 60
      )
      assert.strictEqual(
        delta(after, `clinic_task_runs_total{task="maintenance.prune",queue="maintenance",outcome="succeeded"}`),
        1
      )
      const requests = (route: string, status: number) =>
        delta(after, `clinic_http_request_duration_seconds_count{method="GET",route="${route}",status="${status}"}`)
      assert.strictEqual(requests("/jobs/:name", 200), 1)
      assert.strictEqual(requests("/jobs/:name", 404), 1)
      assert.strictEqual(requests("/metrics", 200), 1)
      assert.include(after, "# TYPE process_resident_memory_bytes gauge")
      assert.include(after, "# TYPE nodejs_eventloop_lag_seconds gauge")
    }).pipe(Effect.provide(server)))
})
