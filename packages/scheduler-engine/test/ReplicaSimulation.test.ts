import {
  Registry,
  Task,
  type TaskId,
  TaskQueue,
  type TaskRow,
  TaskStore,
  type TaskStoreShape,
  Worker
} from "@clinic/queue"
import { assert, describe, it } from "@effect/vitest"
import { Clock, DateTime, Effect, Exit, FastCheck as fc, Fiber, Layer, Schema, Scope, Stream } from "effect"
import * as Job from "../src/Job.js"
import * as JobSchedule from "../src/JobSchedule.js"
import { RunStore, type RunStoreShape, StoreUnavailable } from "../src/RunStore.js"
import { make } from "../src/SchedulerEngine.js"
import { advance, startClock, t0 } from "./helpers.js"

/**
 * A deterministic simulation of three replicas, each a process running a scheduler engine and a
 * task worker, over one memory run history and one memory task store under the TestClock. The
 * engines' job enqueues one task per tick (keyed by the tick, as the scheduler's periodic tasks
 * do), and the schedule enqueues tasks of its own. Random schedules of clock steps and jumps, kills
 * (the process dies: none of its writes land any more, its fibers end without a graceful stop),
 * restarts (a restart during a partition starts cut off), partitions (a live process's store calls
 * fail, so its leases lapse) and heals. After every step both stores are checked against what the
 * replicas saw; fast-check shrinks a failing schedule to a minimal one.
 */

const replicas = ["a", "b", "c"] as const
type Replica = number

type Step =
  | { readonly _tag: "advance"; readonly seconds: number }
  | { readonly _tag: "kill"; readonly replica: Replica }
  | { readonly _tag: "restart"; readonly replica: Replica }
  | { readonly _tag: "partition"; readonly replica: Replica }
  | { readonly _tag: "heal"; readonly replica: Replica }
  | { readonly _tag: "enqueue"; readonly count: number; readonly delaySeconds: number }

const replica = fc.integer({ min: 0, max: replicas.length - 1 })
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ _tag: fc.constant("advance" as const), seconds: fc.integer({ min: 1, max: 30 }) })
  },
  {
    weight: 1,
    arbitrary: fc.record({ _tag: fc.constant("advance" as const), seconds: fc.integer({ min: 30, max: 60 }) })
  },
  // Kills and partitions name a replica by rank, busiest first (see `busiest`), so that faults land
  // on running work more often than at random; restarts and heals pick among the replicas down or
  // cut off, if any. Every choice stays a number that shrinks towards 0.
  { weight: 3, arbitrary: fc.record({ _tag: fc.constant("kill" as const), replica }) },
  { weight: 3, arbitrary: fc.record({ _tag: fc.constant("restart" as const), replica }) },
  { weight: 3, arbitrary: fc.record({ _tag: fc.constant("partition" as const), replica }) },
  { weight: 1, arbitrary: fc.record({ _tag: fc.constant("heal" as const), replica }) },
  {
    weight: 2,
    arbitrary: fc.record({
      _tag: fc.constant("enqueue" as const),
      count: fc.integer({ min: 1, max: 3 }),
      delaySeconds: fc.integer({ min: 0, max: 20 })
    })
  }
)

/** The engine's job: a tick every 10 s that runs 4 s under a 10 s lease. */
const interval = 10_000
const jobLease = 10_000
const workTime = "4 seconds"
/**
 * The tasks: 8 s of work under a 6 s lease renewed every 2 s, buried when the lease of their third
 * attempt lapses. One slot per worker and claims of up to 4 tasks: buffered tasks go stale and are
 * handed back. Enqueues notify the workers; a lapsed lease is found by the 10 s poll.
 */
const queue = { name: "sim", concurrency: 1, pollInterval: "10 seconds", lease: "6 seconds" } as const
const taskWork = "8 seconds"
const maxAttempts = 3

const Payload = Schema.Struct({ source: Schema.String })
const simTask = (handler: (payload: typeof Payload.Type, context: Task.TaskContext) => Effect.Effect<void>) =>
  Task.make({ name: "sim.task", payload: Payload, queue: queue.name, maxAttempts, handler })
/** What the engines' job and the schedule enqueue: the handler is each worker's own. */
const enqueued = simTask(() => Effect.void)
const tickKey = (tick: number) => `tick:${tick}`

/** One life of a replica's process, from a start to a kill. */
interface Incarnation {
  readonly id: string
  readonly node: Node
  readonly startedAt: number
  readonly scope: Scope.CloseableScope
  killed: boolean
}

interface Node {
  readonly name: string
  partitioned: boolean
  current: Incarnation | undefined
  lives: number
}

const reachable = (life: Incarnation) => !life.killed && !life.node.partitioned

/** The last element that satisfies `f`. */
const findLast = <A>(all: ReadonlyArray<A>, f: (a: A) => boolean): A | undefined => {
  for (let i = all.length - 1; i >= 0; i--) if (f(all[i])) return all[i]
  return undefined
}

const sourceOf = (row: TaskRow) => (row.payload as typeof Payload.Encoded).source

interface Execution {
  readonly tick: number
  readonly replica: string
  readonly at: number
}

/**
 * A lease of a task as the task store's answers tell it: taken by a claim, renewed while the holder
 * reaches the store, and ended by the holder (complete, retry, bury, release) or by someone else's
 * claim (the task claimed again, or buried dead on its last attempt).
 */
interface LeaseRecord {
  readonly task: TaskId
  readonly source: string
  readonly lease: string
  readonly holder: string
  readonly attempt: number
  until: number
  end?: { readonly by: "complete" | "retry" | "bury" | "release" | "claim" | "reap"; readonly at: number }
}

/** One run of a task's handler, under the lease its worker claimed it with. */
interface TaskRun {
  readonly lease: LeaseRecord
  readonly startedAt: number
  finishedAt?: number
}

const seconds = (millis: number) => `${(millis - t0) / 1000}s`

const simulate = (steps: ReadonlyArray<Step>) =>
  Effect.gen(function*() {
    yield* startClock
    const runStore = yield* RunStore
    const taskStore = yield* TaskStore
    const executions: Array<Execution> = []
    const leases: Array<LeaseRecord> = []
    const held = new Map<TaskId, LeaseRecord>()
    const taskRuns: Array<TaskRun> = []
    const known = new Set<TaskId>()
    // What the stores' views and the handlers see wrong, in fibers of their own: checked at each step.
    const violations: Array<string> = []
    const nodes: ReadonlyArray<Node> = replicas.map((name) => ({
      name,
      partitioned: false,
      current: undefined,
      lives: 0
    }))
    // However the run ends, the processes still alive stop (reachable, so their last writes land
    // at once instead of retrying on a clock that no longer moves).
    yield* Effect.addFinalizer(() =>
      Effect.forEach(nodes, (node) => {
        node.partitioned = false
        return node.current ? Effect.exit(Scope.close(node.current.scope, Exit.void)) : Effect.void
      }, { discard: true })
    )

    /** The replica's view of the run history: nothing gets through while it is dead or cut off. */
    const runStoreOf = (life: Incarnation): RunStoreShape => {
      const guard = <A>(effect: Effect.Effect<A, StoreUnavailable>) =>
        Effect.suspend(() => reachable(life) ? effect : Effect.fail(new StoreUnavailable({ message: "unreachable" })))
      return RunStore.of({
        claim: (r) => guard(runStore.claim(r)),
        recordSkip: (r) => guard(runStore.recordSkip(r)),
        lastScheduled: (job) => guard(runStore.lastScheduled(job)),
        finish: (id, owner, end) => guard(runStore.finish(id, owner, end)),
        renew: (id, owner, until) => guard(runStore.renew(id, owner, until)),
        expiredClaims: (jobs, now) => guard(runStore.expiredClaims(jobs, now)),
        nextLeaseExpiry: (jobs, replica, now) => guard(runStore.nextLeaseExpiry(jobs, replica, now)),
        takeOver: (id, owner, now, until) => guard(runStore.takeOver(id, owner, now, until)),
        recent: (job, limit) => guard(runStore.recent(job, limit)),
        prune: (before) => guard(runStore.prune(before)),
        pausedJobs: guard(runStore.pausedJobs),
        setPaused: (job, paused, at, reason) => guard(runStore.setPaused(job, paused, at, reason)),
        history: (filter) => guard(runStore.history(filter)),
        beat: (heartbeat) => guard(runStore.beat(heartbeat)),
        leave: (replica) => guard(runStore.leave(replica)),
        replicas: (since) => guard(runStore.replicas(since))
      })
    }

    // Each call that changes tasks runs with its bookkeeping under one lock, uninterruptibly: the
    // leases below follow the store's answers in the order the store gave them.
    const lock = yield* Effect.makeSemaphore(1)
    const observed = <A>(call: Effect.Effect<A>, record: (a: A) => Effect.Effect<void>) =>
      Effect.uninterruptible(lock.withPermits(1)(Effect.tap(call, record)))
    const endLease = (task: TaskId, leaseId: string, by: NonNullable<LeaseRecord["end"]>["by"], at: number) =>
      Effect.sync(() => {
        const lease = held.get(task)
        if (lease === undefined || lease.lease !== leaseId) return void violations.push(`${by} under a lease not held`)
        lease.end = { by, at }
        held.delete(task)
      })

    /**
     * The replica's view of the task store. A call from a dead or cut-off process dies before it
     * reaches the store, as a Postgres store's calls die on a lost connection; notifications do not
     * reach it either.
     */
    const taskStoreOf = (holder: string, isReachable: () => boolean): TaskStoreShape => {
      const reach = <A>(effect: Effect.Effect<A>) =>
        Effect.suspend(() => isReachable() ? effect : Effect.dieMessage(`${holder}: task store unreachable`))
      const ended =
        (by: "retry" | "bury" | "release", id: TaskId, leaseId: string, at: DateTime.Utc) => (done: boolean) =>
          done ? endLease(id, leaseId, by, at.epochMillis) : Effect.void
      return TaskStore.of({
        ...taskStore,
        insert: (tasks) =>
          observed(reach(taskStore.insert(tasks)), (results) =>
            Effect.sync(() => {
              for (const result of results) known.add(result.id)
            })),
        claim: (name, claim, limit) =>
          observed(reach(taskStore.claim(name, claim, limit)), (rows) =>
            Effect.gen(function*() {
              const now = claim.now.epochMillis
              for (const row of rows) {
                if (held.has(row.id)) yield* endLease(row.id, held.get(row.id)!.lease, "claim", now)
                const record: LeaseRecord = {
                  task: row.id,
                  source: sourceOf(row),
                  lease: claim.leaseId,
                  holder,
                  attempt: row.attempts,
                  until: claim.until.epochMillis
                }
                leases.push(record)
                held.set(row.id, record)
              }
              // A claim also buries the lapsed tasks that had used their last attempt.
              for (const lease of [...held.values()]) {
                const row = yield* taskStore.get(lease.task)
                if (row._tag === "Some" && row.value.status === "dead") {
                  yield* endLease(lease.task, lease.lease, "reap", now)
                }
              }
            })),
        extendLease: (id, leaseId, until) =>
          observed(reach(taskStore.extendLease(id, leaseId, until)), (done) =>
            Effect.sync(() => {
              if (done) held.get(id)!.until = until.epochMillis
            })),
        complete: (tasks, now) =>
          observed(reach(taskStore.complete(tasks, now)), (done) =>
            Effect.forEach(
              done,
              (id) => endLease(id, tasks.find((t) => t.id === id)!.leaseId, "complete", now.epochMillis),
              { discard: true }
            )),
        retry: (id, leaseId, options) =>
          observed(reach(taskStore.retry(id, leaseId, options)), ended("retry", id, leaseId, options.now)),
        bury: (id, leaseId, options) =>
          observed(reach(taskStore.bury(id, leaseId, options)), ended("bury", id, leaseId, options.now)),
        release: (id, leaseId, now, runAt) =>
          observed(reach(taskStore.release(id, leaseId, now, runAt)), ended("release", id, leaseId, now)),
        depth: (now) => reach(taskStore.depth(now)),
        notifications: Stream.filter(taskStore.notifications, isReachable),
        ping: (payload) => reach(taskStore.ping(payload))
      })
    }

    /** The engines' job: enqueue the tick's task (once, whoever runs it), then work a while. */
    const tickJob = (life: Incarnation, tasks: TaskStoreShape) =>
      Job.make({
        name: "tick",
        schedule: JobSchedule.every(`${interval} millis`),
        run: ({ scheduledAt }) =>
          Effect.gen(function*() {
            const at = yield* Clock.currentTimeMillis
            executions.push({ tick: scheduledAt.epochMillis, replica: life.id, at })
            yield* TaskQueue.enqueue(enqueued, { source: `tick ${seconds(scheduledAt.epochMillis)}` }, {
              runAt: scheduledAt,
              idempotencyKey: tickKey(scheduledAt.epochMillis)
            }).pipe(Effect.provideService(TaskStore, tasks))
            yield* Effect.sleep(workTime)
          })
      })

    /** The worker's handler: records the run under the lease its worker claimed the task with. */
    const runTask = (life: Incarnation) => (_: typeof Payload.Type, context: Task.TaskContext) =>
      Effect.gen(function*() {
        const lease = findLast(
          leases,
          (l) => l.task === context.id && l.holder === life.id && l.attempt === context.attempt
        )
        if (lease === undefined) {
          violations.push(`${life.id} ran a task it never claimed`)
          return yield* Effect.dieMessage("a task never claimed")
        }
        const run: TaskRun = { lease, startedAt: yield* Clock.currentTimeMillis }
        taskRuns.push(run)
        yield* Effect.sleep(taskWork)
        run.finishedAt = yield* Clock.currentTimeMillis
      })

    const start = (i: Replica) =>
      Effect.gen(function*() {
        const node = nodes[i]
        if (node.current) return
        const life: Incarnation = {
          id: `${node.name}${++node.lives}`,
          node,
          startedAt: yield* Clock.currentTimeMillis,
          scope: yield* Scope.make(),
          killed: false
        }
        const tasks = taskStoreOf(life.id, () => reachable(life))
        const engine = yield* make({
          jobs: [tickJob(life, tasks)],
          replica: node.name,
          lease: `${jobLease} millis`,
          // A kill does not wait for running jobs.
          stopBudget: "0 millis"
        }).pipe(Effect.provideService(RunStore, runStoreOf(life)), Scope.extend(life.scope))
        yield* engine.start
        const registry = yield* Effect.orDie(Registry.make({ tasks: [simTask(runTask(life))], queues: [queue] }))
        yield* Worker.make(registry, { shutdownBudget: "0 millis", claimBatch: 4, depthInterval: "1 minute" }).pipe(
          Effect.provideService(TaskStore, tasks),
          Scope.extend(life.scope)
        )
        node.current = life
      })

    /** The process dies: its stores see nothing more from it, its fibers end without a word. */
    const kill = (i: Replica) =>
      Effect.gen(function*() {
        const life = nodes[i].current
        if (!life) return
        life.killed = true
        nodes[i].current = undefined
        const closing = yield* Effect.fork(Scope.close(life.scope, Exit.void))
        // The dying engine retries its last writes on the clock; they all fail, as do the worker's.
        yield* advance("2 seconds")
        yield* Fiber.await(closing)
      })

    const ticks = Effect.orDie(runStore.recent("tick", 100_000))
    const allTasks = taskStore.list({ limit: 100_000 })

    /** Every tick from `from` (exclusive) up to `until` has a row: run, or recorded skipped. */
    const checkRecorded = (from: number, until: number, what: string) =>
      Effect.gen(function*() {
        const recorded = new Set((yield* ticks).map((r) => r.scheduledAt.epochMillis))
        for (let tick = (Math.floor(from / interval) + 1) * interval; tick <= until; tick += interval) {
          assert.isTrue(recorded.has(tick), `tick ${seconds(tick)} has no run and no skip (${what})`)
        }
      })

    const checkTicks = Effect.gen(function*() {
      const rows = yield* ticks
      // No tick is claimed twice.
      const scheduled = rows.map((r) => r.scheduledAt.epochMillis)
      assert.strictEqual(new Set(scheduled).size, scheduled.length, "a tick has two rows")
      for (const row of rows) {
        const tick = row.scheduledAt.epochMillis
        // The missed-run policy is `skip`: a tick that was not run on time is recorded, never run late.
        assert.notStrictEqual(row.trigger, "catch-up", `tick ${seconds(tick)} was caught up`)
        // A tick runs again only after the lease of its previous run lapsed: once per attempt, and
        // no sooner than a lease after the run before it started.
        const runs = executions.filter((e) => e.tick === tick)
        assert.isAtMost(runs.length, row.attempt, `tick ${seconds(tick)} ran too often`)
        for (let k = 1; k < runs.length; k++) {
          assert.isAtLeast(runs[k].at - runs[k - 1].at, jobLease, "a run was taken over before its lease lapsed")
        }
      }
    })

    const checkTasks = Effect.gen(function*() {
      assert.deepStrictEqual(violations, [])
      const rows = yield* allTasks
      const byId = new Map(rows.map((row) => [row.id, row]))
      for (const id of known) assert.isTrue(byId.has(id), `task ${id} is gone`)
      // A claim never takes a task whose lease is live.
      for (const l of leases) {
        if (l.end?.by === "claim" || l.end?.by === "reap") {
          assert.isAtLeast(
            l.end.at,
            l.until,
            `${l.holder} lost task ${l.source} at ${seconds(l.end.at)}: its lease was live`
          )
        }
      }
      // A handler runs again only when the lease of the run before lapsed and was claimed again.
      for (const task of byId.keys()) {
        const runs = taskRuns.filter((r) => r.lease.task === task).sort((a, b) => a.startedAt - b.startedAt)
        for (let k = 1; k < runs.length; k++) {
          const before = runs[k - 1].lease
          const again = `a task ran again at ${seconds(runs[k].startedAt)} (on ${runs[k].lease.holder})`
          assert.notStrictEqual(runs[k].lease, before, `${again} under the same lease`)
          assert.strictEqual(before.end?.by, "claim", `${again}, but ${before.holder}'s lease was not taken over`)
          assert.isAtMost(before.end!.at, runs[k].startedAt, `${again} before ${before.holder}'s lease was taken over`)
        }
      }
      // No task is lost: the store and the leases agree on every task.
      for (const row of rows) {
        const lease = held.get(row.id)
        const name = `task ${sourceOf(row)}`
        switch (row.status) {
          case "pending":
            assert.isUndefined(lease, `${name} is pending, but ${lease?.holder} holds it`)
            break
          case "running":
            // Held under a lease that its holder renews or that lapses: then a claim takes it.
            assert.strictEqual(lease?.lease, row.leaseId, `${name} runs under a lease no worker took`)
            assert.strictEqual(lease?.until, row.lockedUntil?.epochMillis, `${name} is held until another time`)
            break
          case "succeeded": {
            const completed = leases.find((l) => l.task === row.id && l.end?.by === "complete")
            assert.isDefined(completed, `${name} succeeded without a completion`)
            const finished = taskRuns.some((r) => r.lease === completed && r.finishedAt !== undefined)
            assert.isTrue(finished, `${name} succeeded, but no run under ${completed!.holder}'s lease finished`)
            break
          }
          case "dead": {
            // The handler never fails: a task dies only when the lease of its last attempt lapsed.
            const last = findLast(leases, (l) => l.task === row.id)
            assert.isAtLeast(row.attempts, row.maxAttempts, `${name} is dead before its last attempt`)
            assert.strictEqual(last?.end?.by, "reap", `${name} is dead, but its last lease did not lapse`)
          }
        }
      }
    })

    const check = Effect.zipRight(checkTicks, checkTasks)
    /** The `rank`-th replica (cyclically) of those that `is`, or of all when none is. */
    const among = (is: (node: Node) => boolean, rank: number): Replica => {
      const matching = nodes.map((_, i) => i).filter((i) => is(nodes[i]))
      return matching.length === 0 ? rank : matching[rank % matching.length]
    }
    /** The replica that holds the `rank`-th most task leases (ties in name order). */
    const busiest = (rank: number): Replica => {
      const holding = (i: number) => [...held.values()].filter((l) => l.holder === nodes[i].current?.id).length
      return nodes.map((_, i) => i).sort((a, b) => holding(b) - holding(a) || a - b)[rank]
    }
    // The schedule's own enqueues, as from a process that always reaches the store.
    const client = taskStoreOf("client", () => true)
    let batches = 0

    for (let i = 0; i < replicas.length; i++) yield* start(i)
    for (const s of steps) {
      switch (s._tag) {
        case "advance":
          yield* advance(`${s.seconds} seconds`)
          break
        case "kill":
          yield* kill(busiest(s.replica))
          break
        case "restart":
          yield* start(among((node) => node.current === undefined, s.replica))
          break
        case "partition":
          nodes[busiest(s.replica)].partitioned = true
          break
        case "heal":
          nodes[among((node) => node.partitioned, s.replica)].partitioned = false
          break
        case "enqueue":
          yield* TaskQueue.enqueueMany(
            enqueued,
            Array.from({ length: s.count }, (_, i) => ({
              payload: { source: `enqueue ${batches}.${i}` },
              delay: `${s.delaySeconds} seconds`
            }))
          ).pipe(Effect.provideService(TaskStore, client))
          batches++
          break
      }
      yield* check
    }

    // Recovery: every replica up and reachable for a while; then no due tick is missing.
    for (let i = 0; i < replicas.length; i++) {
      nodes[i].partitioned = false
      yield* start(i)
    }
    yield* advance("30 seconds")
    yield* check
    const now = yield* Clock.currentTimeMillis
    const firstRecorded = Math.min(...(yield* ticks).map((r) => r.scheduledAt.epochMillis))
    yield* checkRecorded(firstRecorded - interval, now - interval, "since the first recorded")
    // A running replica owes every tick since its start, whenever it first reached the history.
    for (const node of nodes) {
      yield* checkRecorded(node.current!.startedAt, now - interval, `since ${node.current!.id} started`)
    }

    // Then no more ticks: every task ever enqueued finishes, and the ticks that ran enqueued theirs.
    yield* Effect.orDie(runStore.setPaused("tick", true, DateTime.unsafeMake(now), "draining"))
    const finished = Effect.map(allTasks, (rows) =>
      rows.every((row) => row.status === "succeeded" || row.status === "dead"))
    for (let i = 0; i < 12 && !(yield* finished); i++) {
      yield* advance("10 seconds")
    }
    yield* check
    const rows = yield* allTasks
    for (const row of rows) {
      assert.include(["succeeded", "dead"], row.status, `task ${sourceOf(row)} never finished`)
    }
    const byKey = new Set(rows.map((row) =>
      row.idempotencyKey
    ))
    for (const run of yield* ticks) {
      const key = tickKey(run.scheduledAt.epochMillis)
      if (run.outcome === "succeeded") {
        assert.isTrue(byKey.has(key), `tick ${seconds(run.scheduledAt.epochMillis)} enqueued no task`)
      }
      if (run.outcome === "skipped") {
        assert.isFalse(byKey.has(key), `skipped tick ${seconds(run.scheduledAt.epochMillis)} enqueued a task`)
      }
    }
  }).pipe(
    Effect.scoped,
    Effect.provide(Layer.mergeAll(Layer.fresh(RunStore.layerMemory), Layer.fresh(TaskStore.layerMemory)))
  )

/**
 * Replayed before the random schedules: every process dies, one comes back inside a partition and
 * the others only after it; when it gets through, the history begins after its start.
 */
const examples: Array<[Array<Step>]> = [[[
  { _tag: "kill", replica: 1 },
  { _tag: "kill", replica: 2 },
  { _tag: "kill", replica: 0 },
  { _tag: "partition", replica: 0 },
  { _tag: "restart", replica: 0 },
  { _tag: "advance", seconds: 30 }
]]]

describe("replica simulation (memory stores, TestClock)", () => {
  it.effect.prop(
    "engines and task workers through kills, restarts, partitions and clock jumps: no tick twice, none lost, no task lost, a rerun only after its lease lapsed",
    [fc.array(step, { minLength: 1, maxLength: 12, size: "max" })],
    ([steps]) => simulate(steps),
    { fastCheck: { numRuns: 10, examples }, timeout: 300_000 }
  )
})
