import { ExternalCalendarSync } from "@clinic/calendar"
import { OutboxStore } from "@clinic/events"
import { smtpMailer, smtpSink } from "@clinic/mail/testing/SmtpSink"
import { TaskStore } from "@clinic/queue"
import { IdempotencyRepo } from "@clinic/repository"
import * as Repositories from "@clinic/repository/Repositories"
import * as TestDatabase from "@clinic/repository/testing/TestDatabase"
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Exit, Layer, Ref, Scope } from "effect"
import { BackgroundLive, TaskRegistry } from "../src/Background.js"
import { apiServer, bookAndConfirm } from "./clinicApi.js"
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

/** The API and the stores over one fresh Postgres database. */
const api = apiServer.pipe(
  Layer.provideMerge(
    Layer.mergeAll(Repositories.layerPg, IdempotencyRepo.layerPg, OutboxStore.layerPg, TaskStore.layerPg)
  ),
  Layer.provideMerge(TestDatabase.layer)
)

describe("acceptance: booking confirmation email", () => {
  it.live(
    "confirming through the API sends exactly one email, across a scheduler restart with the task queued, and nothing is left to send it again",
    () =>
      Effect.gen(function*() {
        const sink = yield* smtpSink
        const mailer = smtpMailer(sink)
        /** The scheduler's background (workers and event bus) in a scope of its own, to stop at will. */
        const startScheduler = (env: Record<string, string>) =>
          Effect.gen(function*() {
            const scope = yield* Scope.make()
            yield* Layer.buildWithScope(
              BackgroundLive.pipe(
                Layer.provideMerge(TaskRegistry.layer),
                Layer.provide(
                  Layer.mergeAll(mailer, OutboxStore.layerPg, TaskStore.layerPg, ExternalCalendarSync.layer).pipe(
                    Layer.provideMerge(Repositories.layerPg)
                  )
                ),
                Layer.provide(configLayer({ SCHEDULER_STOP_BUDGET: "2 seconds", ...env }))
              ),
              scope
            )
            return scope
          })

        const startsAt = DateTime.add(DateTime.unsafeMake(Date.now()), { days: 3 })
        const confirmed = yield* bookAndConfirm(startsAt)
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
        // Nothing is left that a later start could send again, shown by state rather than a quiet
        // interval: the email task succeeded on its one attempt, every event has been relayed
        // (none could fan out into a second email task), and a claim a day later (any lease
        // lapsed, any retry due) finds no email but the reminder, which is not due for days.
        const [sent] = yield* emailTasks
        assert.strictEqual(sent.status, "succeeded")
        assert.strictEqual(sent.attempts, 1)
        const sql = yield* SqlClient.SqlClient
        const undispatched = yield* sql<{ n: number }>`
          SELECT count(*)::int AS n FROM outbox_events WHERE dispatched_at IS NULL`.pipe(Effect.orDie)
        assert.strictEqual(undispatched[0].n, 0)
        const later = DateTime.add(DateTime.unsafeMake(Date.now()), { days: 1 })
        const claimed = yield* tasks.claim("email", {
          leaseId: crypto.randomUUID(),
          now: later,
          until: DateTime.add(later, { minutes: 1 })
        }, 10)
        assert.deepStrictEqual(claimed, [])

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
