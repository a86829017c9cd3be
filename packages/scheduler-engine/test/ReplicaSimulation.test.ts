import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, FastCheck as fc, Fiber, Layer, Ref, Scope } from "effect"
import * as Job from "../src/Job.js"
import * as JobSchedule from "../src/JobSchedule.js"
import { RunStore, type RunStoreShape, StoreUnavailable } from "../src/RunStore.js"
import { make } from "../src/SchedulerEngine.js"
import { advance, startClock, t0 } from "./helpers.js"

/**
 * A deterministic simulation of scheduler replicas over one run history: random schedules of clock
 * steps and jumps, kills (the process dies: none of its writes land any more), restarts and network
 * partitions (a live replica's store calls fail for a while, so its lease can lapse). After every
 * step the history is checked; fast-check shrinks a failing schedule to a minimal one.
 */

const replicas = ["a", "b", "c"] as const
type Replica = number

type Step =
  | { readonly _tag: "advance"; readonly seconds: number }
  | { readonly _tag: "kill"; readonly replica: Replica }
  | { readonly _tag: "restart"; readonly replica: Replica }
  | { readonly _tag: "partition"; readonly replica: Replica }
  | { readonly _tag: "heal"; readonly replica: Replica }

const replica = fc.integer({ min: 0, max: replicas.length - 1 })
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ _tag: fc.constant("advance" as const), seconds: fc.integer({ min: 1, max: 40 }) })
  },
  {
    weight: 1,
    arbitrary: fc.record({ _tag: fc.constant("advance" as const), seconds: fc.integer({ min: 40, max: 60 }) })
  },
  { weight: 2, arbitrary: fc.record({ _tag: fc.constant("kill" as const), replica }) },
  { weight: 2, arbitrary: fc.record({ _tag: fc.constant("restart" as const), replica }) },
  { weight: 1, arbitrary: fc.record({ _tag: fc.constant("partition" as const), replica }) },
  { weight: 1, arbitrary: fc.record({ _tag: fc.constant("heal" as const), replica }) }
)

const interval = 10_000
const lease = 10_000
const workTime = "4 seconds"

interface Execution {
  readonly tick: number
  readonly replica: string
  readonly at: number
}

/** The replica's view of the shared store: nothing gets through while it is dead or cut off. */
const storeOf = (shared: RunStoreShape, cut: Ref.Ref<boolean>): RunStoreShape => {
  const guard = <A>(effect: Effect.Effect<A, StoreUnavailable>) =>
    Effect.flatMap(
      Ref.get(cut),
      (isCut) => isCut ? Effect.fail(new StoreUnavailable({ message: "unreachable" })) : effect
    )
  return RunStore.of({
    claim: (r) => guard(shared.claim(r)),
    recordSkip: (r) => guard(shared.recordSkip(r)),
    lastScheduled: (job) => guard(shared.lastScheduled(job)),
    finish: (id, owner, end) => guard(shared.finish(id, owner, end)),
    renew: (id, owner, until) => guard(shared.renew(id, owner, until)),
    expiredClaims: (jobs, now) => guard(shared.expiredClaims(jobs, now)),
    nextLeaseExpiry: (jobs, replica, now) => guard(shared.nextLeaseExpiry(jobs, replica, now)),
    takeOver: (id, owner, now, until) => guard(shared.takeOver(id, owner, now, until)),
    recent: (job, limit) => guard(shared.recent(job, limit)),
    prune: (before) => guard(shared.prune(before)),
    pausedJobs: guard(shared.pausedJobs),
    setPaused: (job, paused, at, reason) => guard(shared.setPaused(job, paused, at, reason)),
    history: (filter) => guard(shared.history(filter)),
    beat: (heartbeat) => guard(shared.beat(heartbeat)),
    leave: (replica) => guard(shared.leave(replica)),
    replicas: (since) => guard(shared.replicas(since))
  })
}

const simulate = (steps: ReadonlyArray<Step>) =>
  Effect.gen(function*() {
    yield* startClock
    const shared = yield* RunStore
    const executions = yield* Ref.make<ReadonlyArray<Execution>>([])
    const job = (name: string) =>
      Job.make({
        name: "tick",
        schedule: JobSchedule.every(`${interval} millis`),
        run: ({ scheduledAt }) =>
          Effect.gen(function*() {
            const at = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
            yield* Ref.update(executions, (all) => [...all, { tick: scheduledAt.epochMillis, replica: name, at }])
            yield* Effect.sleep(workTime)
          })
      })

    const nodes = yield* Effect.forEach(replicas, (name) =>
      Effect.map(Ref.make(false), (cut) => ({ name, cut, scope: undefined as Scope.CloseableScope | undefined })))

    const start = (i: Replica) =>
      Effect.gen(function*() {
        const node = nodes[i]
        if (node.scope) {
          return
        }
        yield* Ref.set(node.cut, false)
        const scope = yield* Scope.make()
        const engine = yield* make({
          jobs: [job(node.name)],
          replica: node.name,
          lease: `${lease} millis`,
          // A kill does not wait for running jobs.
          stopBudget: "0 millis"
        }).pipe(
          Effect.provideService(RunStore, storeOf(shared, node.cut)),
          Scope.extend(scope)
        )
        yield* engine.start
        node.scope = scope
      })

    /** The process dies: its store sees nothing more from it, its fibers end without a word. */
    const kill = (i: Replica) =>
      Effect.gen(function*() {
        const node = nodes[i]
        if (!node.scope) {
          return
        }
        yield* Ref.set(node.cut, true)
        const closing = yield* Effect.fork(Scope.close(node.scope, Exit.void))
        node.scope = undefined
        // The dying engine retries its last writes on the clock; they all fail.
        yield* advance("2 seconds")
        yield* Fiber.join(closing)
      })

    /**
     * Every tick from the first recorded one up to `until` has a row: run, or recorded skipped.
     * Before any row exists, a replica that could not reach the store since its start begins at
     * the time it first reaches it (it has no cursor to catch up from): those ticks are not counted.
     */
    const checkAllDueRecorded = (until: number) =>
      Effect.gen(function*() {
        const rows = yield* Effect.orDie(shared.recent("tick", 100_000))
        const recorded = new Set(rows.map((r) =>
          r.scheduledAt.epochMillis
        ))
        assert.isAbove(recorded.size, 0, "nothing was recorded")
        for (let tick = Math.min(...recorded); tick <= until; tick += interval) {
          assert.isTrue(recorded.has(tick), `tick ${(tick - t0) / 1000}s has no run and no skip`)
        }
      })

    const check = Effect.gen(function*() {
      const rows = yield* Effect.orDie(shared.recent("tick", 100_000))
      // No tick is claimed twice.
      const ticks = rows.map((r) => r.scheduledAt.epochMillis)
      assert.strictEqual(new Set(ticks).size, ticks.length, "a tick has two rows")
      // A tick runs again only after the lease of its previous run lapsed: once per attempt, and
      // no sooner than a lease after the run before it started.
      const ran = yield* Ref.get(executions)
      for (const row of rows) {
        const runs = ran.filter((e) => e.tick === row.scheduledAt.epochMillis)
        assert.isAtMost(runs.length, row.attempt, `tick ${(row.scheduledAt.epochMillis - t0) / 1000}s ran too often`)
        for (let k = 1; k < runs.length; k++) {
          assert.isAtLeast(runs[k].at - runs[k - 1].at, lease, "a run was taken over before its lease lapsed")
        }
      }
    })

    yield* start(0)
    for (const s of steps) {
      switch (s._tag) {
        case "advance":
          yield* advance(`${s.seconds} seconds`)
          break
        case "kill":
          yield* kill(s.replica)
          break
        case "restart":
          yield* start(s.replica)
          break
        case "partition":
          yield* Ref.set(nodes[s.replica].cut, true)
          break
        case "heal":
          yield* Ref.set(nodes[s.replica].cut, false)
          break
      }
      yield* check
    }
    // Recovery: every replica up and reachable for a while; then no due tick is missing.
    for (let i = 0; i < replicas.length; i++) {
      yield* start(i)
      yield* Ref.set(nodes[i].cut, false)
    }
    yield* advance("30 seconds")
    yield* check
    const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
    yield* checkAllDueRecorded(now - interval)
    for (const node of nodes) if (node.scope) yield* Scope.close(node.scope, Exit.void)
  }).pipe(Effect.provide(Layer.fresh(RunStore.layerMemory)))

describe("replica simulation (memory store, TestClock)", () => {
  it.effect.prop(
    "kills, restarts, partitions and clock jumps: no tick twice, none lost, a rerun only after its lease lapsed",
    [fc.array(step, { minLength: 1, maxLength: 12 })],
    ([steps]) => simulate(steps),
    { fastCheck: { numRuns: 10 } }
  )
})
