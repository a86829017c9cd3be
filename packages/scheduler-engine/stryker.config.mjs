import { mutationConfig } from "../../stryker.base.mjs"

export default mutationConfig({
  // The engine, the cron and schedule arithmetic and the memory RunStore (from `makeMemory` on);
  // the Postgres RunStore is SQL that only the Postgres suites exercise, left out for time.
  mutate: ["src/SchedulerEngine.ts", "src/CronNext.ts", "src/JobSchedule.ts", "src/Job.ts", "src/RunStore.ts:321-504"],
  testFiles: ["test/SchedulerEngine.test.ts", "test/CronNext.test.ts", "test/JobSchedule.test.ts", "test/Job.test.ts"]
})
