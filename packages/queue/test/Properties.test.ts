import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, FastCheck, Ref, Schema, TestClock } from "effect"
import * as Registry from "../src/Registry.js"
import * as Task from "../src/Task.js"
import * as TaskQueue from "../src/TaskQueue.js"
import { TaskStore } from "../src/TaskStore.js"
import * as Worker from "../src/Worker.js"
import { startClock } from "./fixtures.js"

const jobs = FastCheck.array(
  FastCheck.record({
    priority: FastCheck.integer({ min: -3, max: 3 }),
    delayMinutes: FastCheck.integer({ min: 0, max: 10 })
  }),
  { maxLength: 25 }
)

describe("task queue properties (memory)", () => {
  it.effect.prop(
    "every due task runs exactly once, highest priority first, then earliest runAt",
    { jobs },
    ({ jobs }) =>
      Effect.gen(function*() {
        yield* startClock
        const ran = yield* Ref.make<ReadonlyArray<number>>([])
        const task = Task.make({
          name: "prop.task",
          payload: Schema.Struct({ i: Schema.Number }),
          handler: ({ i }) => Ref.update(ran, (r) => [...r, i])
        })
        const registry = yield* Registry.make({ tasks: [task], queues: [{ name: "default", concurrency: 1 }] })
        yield* Effect.forEach(jobs, (job, i) =>
          TaskQueue.enqueue(task, { i }, { priority: job.priority, delay: `${job.delayMinutes} minutes` }))
        yield* TestClock.adjust("10 minutes")
        yield* Worker.drain(registry, "default")
        const order = yield* Ref.get(ran)
        assert.deepStrictEqual(
          [...order].sort((a, b) =>
            a - b
          ),
          jobs.map((_, i) => i),
          "each exactly once"
        )
        const key = (i: number) => [-jobs[i].priority, jobs[i].delayMinutes] as const
        for (let k = 1; k < order.length; k++) {
          const [p0, d0] = key(order[k - 1])
          const [p1, d1] = key(order[k])
          assert.isTrue(p0 < p1 || (p0 === p1 && d0 <= d1), `order at ${k}`)
        }
        const now = yield* DateTime.now
        const depth = yield* Effect.flatMap(TaskStore, (s) => s.depth(now))
        assert.isTrue(depth.every((d) => d.ready === 0 && d.running === 0))
      }).pipe(Effect.provide(TaskStore.layerMemory)),
    { fastCheck: { numRuns: 60 } }
  )
})
