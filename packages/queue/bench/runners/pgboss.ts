/**
 * pg-boss 12 under the common load (needs Node >= 22.12). Without these options a worker fetching
 * one job at a time waits its 2 s polling interval after every job (see pg-boss's worker.js), so
 * it gets LISTEN/NOTIFY (as the other two use), the shortest polling interval, and burst fetching
 * while the queue's cached backlog is non-empty; `localConcurrency` workers of `batchSize` 1 give
 * the same number of tasks in flight as the others' concurrency.
 */
import { PgBoss } from "pg-boss"
import { load, measure, Probe, report } from "./common.js"

const config = load()
const probe = new Probe()
const boss = new PgBoss({
  connectionString: config.databaseUrl,
  max: config.poolSize,
  useListenNotify: true,
  monitorIntervalSeconds: 1,
  queueCacheIntervalSeconds: 1,
  superviseIntervalSeconds: 1
})
boss.on("error", (error) => console.error("pg-boss:", error))
await boss.start()
await boss.createQueue("noop", { notify: true })

const result = await measure({
  load: config,
  probe,
  preload: async (count) => {
    for (let from = 0; from < count; from += 1000) {
      await boss.insert("noop", Array.from({ length: Math.min(1000, count - from) }, () => ({ data: { t: 0 } })))
    }
  },
  startWorkers: async () => {
    await boss.work<{ t: number }>(
      "noop",
      {
        localConcurrency: config.concurrency,
        batchSize: 1,
        pollingIntervalSeconds: 0.5,
        notifyPollingIntervalSeconds: 0.5,
        burstWhenReadyExceeds: 1
      },
      async ([job]) => probe.onStart(job.data.t)
    )
  },
  enqueueOne: (t) => boss.send("noop", { t }),
  // The common start count catches lost and repeated jobs; pg-boss's own states are not read here.
  verify: async () => undefined
})

await boss.stop({ graceful: true, timeout: 10_000 })
report(result)
