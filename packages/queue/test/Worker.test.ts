import { captureLogs } from "@clinic/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import * as Registry from "../src/Registry.js"
import * as Task from "../src/Task.js"
import { TaskStore } from "../src/TaskStore.js"
import * as Worker from "../src/Worker.js"
import { advance, startClock } from "./fixtures.js"

/** The memory store, whose depth query fails like a database that is down while `down.now` holds. */
const flakyDepth = (down: { now: boolean }) =>
  Layer.effect(
    TaskStore,
    Effect.map(TaskStore, (store) =>
      TaskStore.of({
        ...store,
        depth: (now) => down.now ? Effect.die(new Error("connect ECONNREFUSED 127.0.0.1:5432")) : store.depth(now)
      }))
  ).pipe(Layer.provide(TaskStore.layerMemory))

interface Entry {
  readonly level: string
  readonly message: unknown
  readonly cause: string
  readonly annotations: Record<string, unknown>
}

const task = Task.make({ name: "test.sampled", payload: Schema.Struct({}), handler: () => Effect.void })

describe("Worker", () => {
  it.scoped("queue depth sampling through an outage: one warning with the cause (repeated with backoff), one recovery", () => {
    const down = { now: false }
    const { layer: capture, lines } = captureLogs()
    return Effect.gen(function*() {
      yield* startClock
      const registry = yield* Registry.make({ tasks: [task], queues: [{ name: "default", concurrency: 1 }] })
      yield* Worker.make(registry, { depthInterval: "15 seconds" })
      const sampling = () =>
        lines.map((line) => JSON.parse(line) as Entry).filter((e) => String(e.message).startsWith("queue depth"))
      yield* advance("15 seconds")
      assert.deepStrictEqual(sampling(), [])

      down.now = true
      // Twenty samples fail, five minutes of outage: the warning again 30, 90 and 210 s in.
      for (let i = 0; i < 20; i++) yield* advance("15 seconds")
      const warnings = sampling()
      assert.deepStrictEqual(
        warnings.map((e) => `${e.level} ${e.message} ${e.annotations.failingForSeconds ?? 0}`),
        [0, 30, 90, 210].map((s) => `WARN queue depth sampling failing; retrying at each sample ${s}`)
      )
      assert.include(warnings[0].cause, "ECONNREFUSED")

      down.now = false
      for (let i = 0; i < 4; i++) yield* advance("15 seconds")
      assert.deepStrictEqual(sampling().slice(warnings.length).map((e) => `${e.level} ${e.message}`), [
        "INFO queue depth sampling recovered"
      ])
      assert.strictEqual(sampling()[warnings.length].annotations.failures, 20)
    }).pipe(Effect.provide(Layer.merge(flakyDepth(down), capture)))
  })
})
