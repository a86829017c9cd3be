import { Database } from "@clinic/repository"
import { freezableProxy, restartablePostgres, throughPort } from "@clinic/repository/testing/DatabaseFaults"
import { makeTherapist } from "@clinic/repository/testing/Fixtures"
import { captureLogs } from "@clinic/testing"
import { HttpClientRequest } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import type { Redacted } from "effect"
import { Effect, Fiber, Layer, Logger, LogLevel, Ref } from "effect"
import { type Answer, get, pollUntil, postgresServer, send } from "./support/TestApi.js"

// Small bounds, so that the outage shows within the test's time: the defaults are 5 s each.
const STATEMENT_TIMEOUT = "1500 millis"
const CONNECT_TIMEOUT = "1500 millis"
/** Longest answer allowed during an outage: a connect or a statement timeout, the margin, slack. */
const ANSWER_BOUND_MS = 6_000

const database = (url: Redacted.Redacted) =>
  Database.clientLayer(url, {
    maxConnections: 4,
    statementTimeout: STATEMENT_TIMEOUT,
    connectTimeout: CONNECT_TIMEOUT
  })

type Phase = "before" | "stopping" | "down" | "restarting" | "up"

interface Observed {
  readonly phase: Phase
  readonly request: string
  /** `undefined`: no answer within `ANSWER_BOUND_MS`. */
  readonly answer: Answer | undefined
  readonly ms: number
}

const listPatients = (token: string) => get(token, "/patients")
const createPatient = (token: string) =>
  send(token, HttpClientRequest.post("/patients").pipe(HttpClientRequest.bodyUnsafeJson({ name: "Pat Outage" })))

/** Sends `request` again and again, recording each answer with the phase it started in. */
const load = <R>(
  phase: Ref.Ref<Phase>,
  seen: Ref.Ref<ReadonlyArray<Observed>>,
  name: string,
  request: Effect.Effect<Answer, never, R>
) =>
  Effect.gen(function*() {
    const started = Date.now()
    const at = yield* Ref.get(phase)
    const answer = yield* request.pipe(Effect.timeoutTo({
      duration: ANSWER_BOUND_MS,
      onSuccess: (a): Answer | undefined => a,
      onTimeout: () => undefined
    }))
    yield* Ref.update(seen, (all) => [...all, { phase: at, request: name, answer, ms: Date.now() - started }])
  }).pipe(Effect.forever)

const countIn = (seen: Ref.Ref<ReadonlyArray<Observed>>, phase: Phase, ok: (o: Observed) => boolean = () => true) =>
  Effect.map(Ref.get(seen), (all) => all.filter((o) => o.phase === phase && ok(o)).length)

const countHealthy = (all: ReadonlyArray<Observed>, phase: Phase) =>
  all.filter((o) => o.phase === phase && o.request === "GET /health" && o.answer?.status === 200).length

const succeeded = (o: Observed) => o.answer !== undefined && o.answer.status < 300

interface LogLine {
  readonly level: string
  readonly message: string
  readonly annotations: Record<string, unknown>
}

describe("database outage (real Postgres stopped and restarted under load)", () => {
  it.live(
    "every answer while the database is down is a 503 with Retry-After, none a 500; it recovers by itself, " +
      "and the log has one warning with the cause and one recovery, nothing per request",
    () =>
      Effect.gen(function*() {
        const postgres = yield* restartablePostgres
        const { layer: capture, lines } = captureLogs()
        const context = yield* Layer.build(
          postgresServer({}, database(postgres.url)).pipe(
            Layer.provide(capture),
            // Debug included: a line per failed request at any level is what must not be.
            Layer.provide(Logger.minimumLogLevel(LogLevel.All))
          )
        )
        yield* Effect.gen(function*() {
          const user = yield* makeTherapist()
          const token = user.id
          const phase = yield* Ref.make<Phase>("before")
          const seen = yield* Ref.make<ReadonlyArray<Observed>>([])
          const workers = yield* Effect.forkAll([
            load(phase, seen, "GET /patients", listPatients(token)),
            load(phase, seen, "GET /patients", listPatients(token)),
            load(phase, seen, "POST /patients", createPatient(token)),
            load(phase, seen, "POST /patients", createPatient(token)),
            // Answers without the database: its successes during the outage are no recovery.
            load(phase, seen, "GET /health", get(token, "/health"))
          ])
          yield* pollUntil(countIn(seen, "before", succeeded), (n) => n >= 10, "20 seconds")

          yield* Ref.set(phase, "stopping")
          yield* postgres.stop
          yield* Ref.set(phase, "down")
          // Forty 503s (the /health loader's 200s do not count toward them).
          yield* pollUntil(countIn(seen, "down", (o) => o.answer?.status === 503), (n) => n >= 40, "30 seconds")

          yield* Ref.set(phase, "restarting")
          yield* postgres.start
          yield* Ref.set(phase, "up")
          yield* pollUntil(countIn(seen, "up", succeeded), (n) => n >= 10, "30 seconds")
          yield* Fiber.interrupt(workers)

          const all = yield* Ref.get(seen)
          const unanswered = all.filter((o) => o.answer === undefined)
          assert.deepStrictEqual(
            unanswered.map((o) => `${o.phase} ${o.request}`),
            [],
            "every request is answered in time"
          )
          const statuses = new Set(all.map((o) => `${o.request} ${o.answer!.status}`))
          assert.deepStrictEqual(
            [...statuses].filter((s) => !/ (200|201|503)$/.test(s)),
            [],
            "only successes and 503s, never a 500"
          )
          for (const o of all.filter((o) => o.answer!.status === 503)) {
            assert.strictEqual(o.answer!.headers["retry-after"], "5")
            assert.strictEqual(o.answer!.body._tag, "ServiceUnavailable")
          }
          const down = all.filter((o) => o.phase === "down" && o.request !== "GET /health")
          assert.deepStrictEqual([...new Set(down.map((o) => o.answer!.status))], [503], "down: 503 only")
          assert.isAbove(countHealthy(all, "down"), 0, "/health answered while the database was down")
          assert.isBelow(Math.max(...down.map((o) => o.ms)), ANSWER_BOUND_MS)

          // Recovered: writes land again.
          const created = yield* createPatient(token)
          assert.strictEqual(created.status, 201)

          const logged = lines.map((line) => JSON.parse(line) as LogLine)
          const about = logged.filter((l) => /^database (unreachable|reachable again)/.test(String(l.message)))
          assert.deepStrictEqual(about.map((l) => `${l.level} ${l.message}`), [
            "WARN database unreachable; answering 503 ServiceUnavailable",
            "INFO database reachable again; recovered"
          ])
          // How the first request failed depends on when it met the stopping server: refused, reset
          // (a connection still in the listen queue when the server closed it) or terminated.
          assert.match(String(about[0].annotations.cause), /ECONNREFUSED|ECONNRESET|terminat|shut/i)
          const failures = all.filter((o) => o.answer!.status === 503).length
          assert.strictEqual(about[1].annotations.failures, failures, "every 503 counted, each logged by no line")
        }).pipe(Effect.provide(context))
      }).pipe(Effect.scoped),
    { timeout: 120_000 }
  )

  it.live(
    "a frozen database (connections accepted, nothing answered) is a 503 within the timeouts, then recovers",
    () =>
      Effect.gen(function*() {
        const postgres = yield* restartablePostgres
        const proxy = yield* freezableProxy(postgres.port)
        const context = yield* Layer.build(postgresServer({}, database(throughPort(postgres.url, proxy.port))))
        yield* Effect.gen(function*() {
          const user = yield* makeTherapist()
          const token = user.id
          assert.strictEqual((yield* listPatients(token)).status, 200)

          yield* proxy.freeze
          // Four at once: queries on open connections (read timeout) and on new ones (connect timeout).
          const frozen = yield* Effect.forEach(
            [1, 2, 3, 4, 5, 6],
            (i) =>
              Effect.gen(function*() {
                const started = Date.now()
                const answer = yield* (i % 2 === 0 ? createPatient(token) : listPatients(token)).pipe(
                  Effect.timeoutTo({
                    duration: ANSWER_BOUND_MS,
                    onSuccess: (a): Answer | undefined => a,
                    onTimeout: () => undefined
                  })
                )
                return { status: answer?.status, retryAfter: answer?.headers["retry-after"], ms: Date.now() - started }
              }),
            { concurrency: "unbounded" }
          )
          for (const answer of frozen) {
            assert.strictEqual(answer.status, 503)
            assert.strictEqual(answer.retryAfter, "5")
            assert.isBelow(answer.ms, ANSWER_BOUND_MS)
          }

          yield* proxy.thaw
          yield* pollUntil(listPatients(token), (a) => a.status === 200, "20 seconds")
          assert.strictEqual((yield* createPatient(token)).status, 201)
        }).pipe(Effect.provide(context))
      }).pipe(Effect.scoped),
    { timeout: 120_000 }
  )
})
