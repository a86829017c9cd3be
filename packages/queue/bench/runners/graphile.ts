/** graphile-worker 0.18 under the common load (needs Node >= 22.18). Defaults except the pool and concurrency. */
import { Logger, makeWorkerUtils, run, type Runner } from "graphile-worker"
import { load, measure, Probe, report } from "./common.js"

const config = load()
const probe = new Probe()
const quiet = new Logger(() => () => {})
const options = {
  connectionString: config.databaseUrl,
  maxPoolSize: config.poolSize,
  logger: quiet
}

const utils = await makeWorkerUtils(options)
await utils.migrate()
let runner: Runner | undefined

const result = await measure({
  load: config,
  probe,
  preload: async (count) => {
    for (let from = 0; from < count; from += 1000) {
      await utils.addJobs(
        Array.from({ length: Math.min(1000, count - from) }, () => ({ identifier: "noop", payload: { t: 0 } }))
      )
    }
  },
  startWorkers: async () => {
    runner = await run({
      ...options,
      concurrency: config.concurrency,
      noHandleSignals: true,
      taskList: {
        noop: async (payload) => probe.onStart((payload as { t: number }).t)
      }
    })
  },
  enqueueOne: (t) => utils.addJob("noop", { t }),
  verify: async () => {
    await runner?.stop()
    // graphile-worker deletes a job when it succeeds: any row left is a job not done.
    const { rows } = await utils.withPgClient((client) =>
      client.query<{ n: number }>("SELECT count(*)::int AS n FROM graphile_worker.jobs")
    )
    return rows[0].n === 0 ? undefined : `${rows[0].n} jobs left unfinished`
  }
})

await utils.release()
report(result)
