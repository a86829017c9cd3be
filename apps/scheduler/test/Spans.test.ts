import { ExternalCalendarSync } from "@clinic/calendar"
import { AuthSessionMediaStore, SessionCleanup } from "@clinic/cleanup"
import { EventBus, OutboxStore } from "@clinic/events"
import { Mailer } from "@clinic/mail"
import { TaskStore, Worker } from "@clinic/queue"
import * as TestDatabase from "@clinic/repository/testing/TestDatabase"
import { RunStore, SchedulerEngine } from "@clinic/scheduler-engine"
import { FileStores } from "@clinic/storage"
import { methodSpanProblems } from "@clinic/testing"
import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { BackgroundLive } from "../src/Background.js"
import { DashboardSessions } from "../src/dashboard/DashboardSessions.js"
import { Operations } from "../src/Operations.js"
import { configLayer, memoryApp } from "./layers.js"

/** A mail folder of the test's own, removed with the layer. */
const mailFolder = Layer.unwrapScoped(
  Effect.map(
    Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "clinic-spans-mail-" })),
    (dir) => Mailer.layerFolder(dir)
  )
).pipe(Layer.provide(NodeFileSystem.layer))

const layer = Layer.mergeAll(Operations.Default, DashboardSessions.Default, BackgroundLive).pipe(
  Layer.provideMerge(memoryApp()),
  Layer.provideMerge(mailFolder)
)

/**
 * Each service of the scheduler as the app builds it (on the memory stores): `methodSpanProblems`
 * calls every function member, so a method added without a `<Service>.<method>` span fails here
 * without being listed. The stop methods go last: they end the loops the other methods report on.
 */
const services = Effect.gen(function*() {
  return [
    ["Operations", yield* Operations],
    ["DashboardSessions", yield* DashboardSessions],
    ["SessionCleanup", yield* SessionCleanup],
    ["AuthSessionMediaStore", yield* AuthSessionMediaStore],
    ["ExternalCalendarSync", yield* ExternalCalendarSync],
    ["Mailer", yield* Mailer],
    ["RunStore", yield* RunStore],
    ["TaskStore", yield* TaskStore],
    ["OutboxStore", yield* OutboxStore],
    ["SchedulerEngine", yield* SchedulerEngine],
    ["TaskWorker", yield* Worker.TaskWorker],
    ["EventBus", yield* EventBus.EventBus]
  ] as const
})

describe("scheduler spans", () => {
  it.live("every method of every scheduler service starts one span named <Service>.<method>", () =>
    Effect.gen(function*() {
      const problems: Array<string> = []
      for (const [name, service] of yield* services) {
        problems.push(...(yield* methodSpanProblems(name, service)))
      }
      assert.deepStrictEqual(problems, [])
    }).pipe(Effect.provide(layer), Effect.scoped))

  it.live("every method of the Pg stores and of the file-backed media store starts one span of its name", () =>
    Effect.gen(function*() {
      const problems: Array<string> = []
      for (
        const [name, service] of [
          ["RunStore", yield* RunStore],
          ["TaskStore", yield* TaskStore],
          ["OutboxStore", yield* OutboxStore],
          ["AuthSessionMediaStore", yield* AuthSessionMediaStore]
        ] as const
      ) {
        problems.push(...(yield* methodSpanProblems(name, service)))
      }
      assert.deepStrictEqual(problems, [])
    }).pipe(
      Effect.provide(
        Layer.mergeAll(
          RunStore.layerPg,
          TaskStore.layerPg,
          OutboxStore.layerPg,
          AuthSessionMediaStore.layer.pipe(Layer.provide(FileStores.FileStores.layer))
        ).pipe(Layer.provideMerge(TestDatabase.layer), Layer.provideMerge(configLayer()))
      ),
      Effect.scoped
    ))
})
