import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Option, Schema } from "effect"
import * as Beat from "../src/Beat.js"
import * as Registry from "../src/Registry.js"
import * as Task from "../src/Task.js"
import { TaskStore } from "../src/TaskStore.js"
import { at, T0 } from "./fixtures.js"

const prune = Task.make({
  name: "maintenance.prune",
  payload: Schema.Struct({ retentionDays: Schema.Number }),
  queue: "maintenance",
  handler: () => Effect.void
})

const registry = Registry.make({
  tasks: [prune],
  queues: [{ name: "maintenance", concurrency: 1 }],
  periodic: [
    { name: "quarter-hourly", task: "maintenance.prune", every: "15 minutes", payload: { retentionDays: 1 } },
    { name: "nightly-utc", task: "maintenance.prune", cron: "0 3 * * *", payload: { retentionDays: 30 } },
    {
      name: "nightly-berlin",
      task: "maintenance.prune",
      cron: "0 3 * * *",
      timeZone: "Europe/Berlin",
      payload: { retentionDays: 30 }
    }
  ]
})

const iso = (o: Option.Option<DateTime.Utc>) => Option.map(o, DateTime.formatIso).pipe(Option.getOrNull)

describe("Beat", () => {
  it.effect("finds the latest occurrence in (after, upTo], collapsing missed ones", () =>
    Effect.gen(function*() {
      const [every, utc, berlin] = (yield* registry).periodic.map((p) => p.schedule)
      assert.isNull(iso(Beat.latestOccurrence(every, T0, at("14 minutes"))))
      assert.strictEqual(iso(Beat.latestOccurrence(every, T0, at("15 minutes"))), "2026-03-02T09:15:00.000Z")
      assert.strictEqual(
        iso(Beat.latestOccurrence(every, at("15 minutes"), at("47 minutes"))),
        "2026-03-02T09:45:00.000Z"
      )
      assert.isNull(iso(Beat.latestOccurrence(every, at("15 minutes"), at("29 minutes"))), "after is exclusive")
      assert.strictEqual(iso(Beat.latestOccurrence(utc, T0, at("73 hours"))), "2026-03-05T03:00:00.000Z")
      assert.isNull(iso(Beat.latestOccurrence(utc, T0, at("17 hours"))))
      assert.strictEqual(iso(Beat.latestOccurrence(utc, T0, at("18 hours"))), "2026-03-03T03:00:00.000Z")
      // 03:00 in Berlin is 02:00 UTC in March (CET).
      assert.strictEqual(iso(Beat.latestOccurrence(berlin, T0, at("18 hours"))), "2026-03-03T02:00:00.000Z")
    }))

  it.effect("enqueues each occurrence once, however often or by however many replicas it is asked", () =>
    Effect.gen(function*() {
      const checked = yield* registry
      const first = yield* Beat.enqueueDue(checked, T0, at("18 hours"))
      assert.deepStrictEqual(first.map((e) => `${e.entry} ${DateTime.formatIso(e.at)} ${e.inserted}`), [
        "quarter-hourly 2026-03-03T03:00:00.000Z true",
        "nightly-utc 2026-03-03T03:00:00.000Z true",
        "nightly-berlin 2026-03-03T02:00:00.000Z true"
      ])
      const again = yield* Effect.all([
        Beat.enqueueDue(checked, T0, at("18 hours")),
        Beat.enqueueDue(checked, at("1070 minutes"), at("18 hours"))
      ])
      assert.isTrue(again.flat().every((e) => !e.inserted))
      const tasks = yield* Effect.flatMap(TaskStore, (s) => s.list({ limit: 10 }))
      assert.strictEqual(tasks.length, 3)
      const nightly = tasks.find((t) => t.idempotencyKey === "periodic:nightly-utc:2026-03-03T03:00:00.000Z")!
      assert.deepStrictEqual(nightly.payload, { retentionDays: 30 })
      assert.strictEqual(DateTime.formatIso(nightly.runAt), "2026-03-03T03:00:00.000Z")
    }).pipe(Effect.provide(TaskStore.layerMemory)))

  it.effect("an unknown time zone fails the registry", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Registry.make({
        tasks: [prune],
        queues: [{ name: "maintenance", concurrency: 1 }],
        periodic: [{
          name: "x",
          task: "maintenance.prune",
          cron: "0 3 * * *",
          timeZone: "Mars/Olympus",
          payload: { retentionDays: 1 }
        }]
      }))
      assert.include(error.problems[0], "unknown time zone \"Mars/Olympus\"")
    }))
})
