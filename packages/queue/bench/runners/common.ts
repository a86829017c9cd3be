/**
 * What every runner shares: the load's parameters (from the orchestrator, through the environment),
 * the clock, and the one shape of result it reports. The producer and the workers live in the same
 * process, so enqueue and start times come from one clock.
 */
import * as Fs from "node:fs"

export interface Load {
  readonly databaseUrl: string
  readonly concurrency: number
  /** Tasks preloaded, then drained: the throughput phase. */
  readonly tasks: number
  /** Tasks enqueued one by one at `rate` per second to idle workers: the latency phase. */
  readonly latencyTasks: number
  readonly rate: number
  readonly poolSize: number
}

export interface Result {
  readonly tasks: number
  readonly preloadMs: number
  readonly drainMs: number
  readonly throughput: number
  readonly latencyTasks: number
  readonly latencyP50: number
  readonly latencyP99: number
  readonly latencyMax: number
  readonly node: string
  /** @clinic/queue only: claim statements per task in the latency phase (1 is ideal). */
  readonly claimsPerTask?: number
}

export const load = (): Load => {
  const need = (name: string) => {
    const value = process.env[name]
    if (value === undefined) throw new Error(`${name} is not set (run bench/queue.ts)`)
    return value
  }
  return {
    databaseUrl: need("BENCH_DATABASE_URL"),
    concurrency: Number(need("BENCH_CONCURRENCY")),
    tasks: Number(need("BENCH_TASKS")),
    latencyTasks: Number(need("BENCH_LATENCY_TASKS")),
    rate: Number(need("BENCH_LATENCY_RATE")),
    poolSize: Number(need("BENCH_POOL_SIZE"))
  }
}

/** Epoch milliseconds with sub-millisecond resolution. */
export const now = (): number => performance.timeOrigin + performance.now()

export const percentile = (sorted: ReadonlyArray<number>, q: number): number =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]

/**
 * Counts handler starts. In the throughput phase it notes when the first and the last of the
 * preloaded tasks started; in the latency phase each payload carries its enqueue time.
 */
export class Probe {
  private started = 0
  private target = 0
  private firstAt = 0
  private lastAt = 0
  private resolve: (() => void) | undefined
  readonly latencies: Array<number> = []

  /** Called first thing in every handler with the payload's enqueue time (0 for preloaded tasks). */
  readonly onStart = (enqueuedAt: number): void => {
    const at = now()
    this.total++
    if (enqueuedAt > 0) this.latencies.push(at - enqueuedAt)
    this.started++
    if (this.started === 1) this.firstAt = at
    if (this.started === this.target) {
      this.lastAt = at
      this.resolve?.()
    }
  }

  /** Resolves when `count` more handlers have started, or rejects after `timeoutMs`. */
  expect(count: number, timeoutMs: number): Promise<{ readonly firstAt: number; readonly lastAt: number }> {
    const base = this.started
    this.firstAt = 0
    this.target = base + count
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`only ${this.started - base} of ${count} tasks started within ${timeoutMs} ms`)),
        timeoutMs
      )
      this.resolve = () => {
        clearTimeout(timer)
        resolve({ firstAt: this.firstAt, lastAt: this.lastAt })
      }
      if (this.started >= this.target) this.resolve()
    })
  }

  /** Handler starts since the process began, latency phase included: a lost or repeated task shows here. */
  total = 0

  reset(): void {
    this.started = 0
    this.target = 0
    this.latencies.length = 0
  }
}

/**
 * Enqueues `count` tasks at `rate` per second, each stamped with the time just before its enqueue
 * call. Paced on absolute targets so a slow enqueue does not slow the whole schedule down.
 */
export const paced = async (
  count: number,
  rate: number,
  enqueue: (enqueuedAt: number) => Promise<unknown>
): Promise<void> => {
  const start = now()
  const pending: Array<Promise<unknown>> = []
  for (let i = 0; i < count; i++) {
    const due = start + (i * 1000) / rate
    const wait = due - now()
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    pending.push(enqueue(now()))
  }
  await Promise.all(pending)
}

/** The two phases every runner goes through, around its own enqueue and worker calls. */
export const measure = async (options: {
  readonly load: Load
  readonly probe: Probe
  /** Enqueues the throughput phase's tasks (payload enqueuedAt 0) by the library's fastest means. */
  readonly preload: (count: number) => Promise<void>
  readonly startWorkers: () => Promise<void>
  readonly enqueueOne: (enqueuedAt: number) => Promise<unknown>
  /**
   * Stops the workers and checks the queue's own record: every task finished once and succeeded.
   * Returns what is wrong, if anything; the run then fails instead of reporting figures.
   */
  readonly verify: (expected: number) => Promise<string | undefined>
}): Promise<Result> => {
  const { load, probe } = options
  const preloadStart = now()
  await options.preload(load.tasks)
  const preloadMs = now() - preloadStart
  const drained = probe.expect(load.tasks, 600_000)
  await options.startWorkers()
  const { firstAt, lastAt } = await drained
  const drainMs = lastAt - firstAt
  // Let the last completions land and the workers go idle before the latency phase.
  await new Promise((resolve) => setTimeout(resolve, 1000))
  probe.reset()
  const started = probe.expect(load.latencyTasks, 120_000)
  await paced(load.latencyTasks, load.rate, options.enqueueOne)
  await started
  // Let the last completions land; a task run twice would start again by now only after its lease,
  // so a repeat shows as a start count above the total, a loss as one below.
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const expected = load.tasks + load.latencyTasks
  const problems = [
    ...(probe.total === expected ? [] : [`${probe.total} handler starts for ${expected} tasks`]),
    ...[await options.verify(expected)].filter((problem) => problem !== undefined)
  ]
  if (problems.length > 0) throw new Error(`benchmark invalid: ${problems.join("; ")}`)
  const sorted = [...probe.latencies].sort((a, b) => a - b)
  return {
    tasks: load.tasks,
    preloadMs,
    drainMs,
    throughput: (load.tasks - 1) / (drainMs / 1000),
    latencyTasks: sorted.length,
    latencyP50: percentile(sorted, 0.5),
    latencyP99: percentile(sorted, 0.99),
    latencyMax: sorted[sorted.length - 1] ?? NaN,
    node: process.version
  }
}

export const report = (result: Result): void => {
  const file = process.env.BENCH_RESULT
  if (file) Fs.writeFileSync(file, JSON.stringify(result))
  else console.log(JSON.stringify(result))
}
