import { mutationConfig } from "../../stryker.base.mjs"

export default mutationConfig({
  // The engine, the cron and schedule arithmetic and the memory RunStore (from `makeMemory` on);
  // the Postgres RunStore is SQL that only the Postgres suites exercise, left out for time.
  mutate: ["src/SchedulerEngine.ts", "src/CronNext.ts", "src/JobSchedule.ts", "src/Job.ts", "src/RunStore.ts:304-487"],
  // Not here: `Postgres.test.ts` and `Failover.test.ts` need a database, and `ReplicaSimulation.test.ts`
  // (a property over whole replica schedules) would be run against every mutant it reaches: 11-19 s
  // each before the TestClock patch, about 2 s since, so the next full run could afford it.
  testFiles: [
    "test/SchedulerEngine.test.ts",
    "test/CronNext.test.ts",
    "test/JobSchedule.test.ts",
    "test/Job.test.ts",
    "test/RunStore.test.ts",
    "test/LeaseRenewal.test.ts",
    "test/EngineOperations.test.ts",
    "test/ScheduleParsing.test.ts",
    "test/CronClockChanges.test.ts"
  ]
})
