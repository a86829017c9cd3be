import { Worker } from "@clinic/queue"
import { Pipeline } from "@clinic/recordings"
import { Promtool } from "@clinic/testing"
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, TestClock } from "effect"
import { audioBytes, heads } from "../../../packages/recordings/test/audio.js"
import * as FakeOpenAi from "../../../packages/recordings/test/FakeOpenAi.js"
import { get, memoryServer, startClock, therapistWithPatient, upload } from "./support/TestApi.js"

const TOKEN = "metrics-s3cret"

/** `GET /metrics` with `token` as the bearer token (none when undefined). */
const scrape = (token?: string) =>
  Effect.gen(function*() {
    const request = HttpClientRequest.get("/metrics")
    const response = yield* HttpClient.execute(
      token === undefined ? request : HttpClientRequest.bearerToken(request, token)
    )
    return { status: response.status, contentType: response.headers["content-type"] ?? "", text: yield* response.text }
  })

/** The metrics text, checked by promtool. */
const metrics = Effect.gen(function*() {
  const { contentType, status, text } = yield* scrape(TOKEN)
  assert.strictEqual(status, 200)
  assert.match(contentType, /^text\/plain; version=0\.0\.4/)
  yield* Promtool.checkMetrics(text)
  return text
})

/** The value of the sample `series` (name and labels, as written), 0 when absent. */
const sample = (text: string, series: string) => {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `))
  return line === undefined ? 0 : Number(line.slice(series.length + 1))
}

const requests = (text: string, method: string, route: string, status: number) =>
  sample(text, `clinic_http_request_duration_seconds_count{method="${method}",route="${route}",status="${status}"}`)

const file = { name: "session.mp3", type: "audio/mpeg", bytes: audioBytes(heads.mp3Id3, 8 * 1024) }
const notes = { summary: "Sleep.", topics: ["sleep"], mood: "calm", risks: [], followUpActions: [] }

describe("GET /metrics", () => {
  it.live("is not served without API_METRICS_TOKEN", () =>
    Effect.gen(function*() {
      const { status, text } = yield* scrape(TOKEN)
      assert.strictEqual(status, 404)
      assert.strictEqual(JSON.parse(text)._tag, "RouteNotFound")
    }).pipe(Effect.provide(memoryServer())))

  it.live("needs the token; counts requests by route template and status; passes promtool", () =>
    Effect.gen(function*() {
      const missing = yield* scrape()
      assert.strictEqual(missing.status, 401)
      assert.strictEqual(JSON.parse(missing.text)._tag, "Unauthorized")
      assert.strictEqual((yield* scrape("wrong")).status, 401)

      const before = yield* metrics
      const { patient, user } = yield* therapistWithPatient
      assert.strictEqual((yield* get(user.id, `/patients/${patient.id}`)).status, 200)
      assert.strictEqual((yield* get(user.id, `/patients/${crypto.randomUUID()}`)).status, 404)
      assert.strictEqual((yield* get(user.id, "/no-such-route/1")).status, 404)
      assert.strictEqual((yield* get(user.id, "/no-such-route/2")).status, 404)
      const after = yield* metrics

      const delta = (method: string, route: string, status: number) =>
        requests(after, method, route, status) - requests(before, method, route, status)
      assert.strictEqual(delta("GET", "/patients/:id", 200), 1)
      assert.strictEqual(delta("GET", "/patients/:id", 404), 1)
      assert.strictEqual(delta("POST", "/patients", 201), 1)
      assert.strictEqual(delta("GET", "unmatched", 404), 2)
      // The scrape that `before` came from, under its own route.
      assert.isAtLeast(requests(after, "GET", "/metrics", 200), 1)
      assert.notInclude(after, patient.id)
      assert.notInclude(after, "/no-such-route")
      // Process and event-loop metrics.
      assert.include(after, "# TYPE process_cpu_seconds_total counter")
      assert.include(after, "# TYPE nodejs_eventloop_lag_seconds gauge")
    }).pipe(Effect.provide(memoryServer({ settings: { API_METRICS_TOKEN: TOKEN } }))))

  it.scoped("counts the recordings pipeline's steps by outcome, and the queue's runs", () =>
    Effect.gen(function*() {
      yield* startClock
      const fake = yield* FakeOpenAi.make([
        FakeOpenAi.json(500, { error: { message: "upstream overloaded" } }),
        FakeOpenAi.json(200, { text: "We talked about sleep.", language: "english" }),
        FakeOpenAi.json(200, {
          model: "notes-test",
          choices: [{ index: 0, finish_reason: "stop", message: { role: "assistant", content: JSON.stringify(notes) } }]
        })
      ])
      const drain = Effect.flatMap(Pipeline.registry, (registry) => Worker.drain(registry, Pipeline.QUEUE)).pipe(
        Effect.orDie
      )
      yield* Effect.gen(function*() {
        const before = yield* metrics
        const { patient, user } = yield* therapistWithPatient
        assert.strictEqual((yield* upload(user.id, [["patientId", patient.id], ["file", file]])).status, 201)
        yield* drain
        yield* TestClock.adjust("1 minute")
        yield* drain
        const after = yield* metrics

        const steps = (step: string, outcome: string) => {
          const series = `clinic_recording_steps_total{step="${step}",outcome="${outcome}"}`
          return sample(after, series) - sample(before, series)
        }
        assert.strictEqual(steps("transcribe", "retried"), 1)
        assert.strictEqual(steps("transcribe", "done"), 1)
        assert.strictEqual(steps("extract-notes", "done"), 1)
        assert.strictEqual(steps("extract-notes", "failed"), 0)
        assert.strictEqual(
          requests(after, "POST", "/recordings", 201) - requests(before, "POST", "/recordings", 201),
          1
        )
        const runs = `clinic_task_runs_total{task="recording.transcribe",queue="recordings",outcome="retried"}`
        assert.strictEqual(sample(after, runs) - sample(before, runs), 1)
      }).pipe(
        Effect.provide(Layer.merge(
          memoryServer({ settings: { API_METRICS_TOKEN: TOKEN, CLINIC_RECORDINGS_PROVIDER_BASE_URL: fake.baseUrl } }),
          NodeFileSystem.layer
        ))
      )
    }))
})
