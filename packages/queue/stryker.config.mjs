import { mutationConfig } from "../../stryker.base.mjs"

export default mutationConfig({
  // The worker, the queue, backoff, the registry and the memory TaskStore (from `makeMemory` on);
  // the Postgres TaskStore is SQL that only the Postgres suites exercise, left out for time.
  mutate: [
    "src/Worker.ts",
    "src/TaskQueue.ts",
    "src/Backoff.ts",
    "src/Registry.ts",
    "src/Task.ts",
    "src/TaskStore.ts:417-676"
  ],
  testFiles: [
    "test/Memory.test.ts",
    "test/Properties.test.ts",
    "test/Registry.test.ts",
    "test/Metrics.test.ts",
    "test/Worker.test.ts",
    "test/TaskStoreViews.test.ts",
    "test/WorkerFailures.test.ts",
    "test/Configuration.test.ts",
    "test/TaskStoreLeases.test.ts",
    "test/WorkerWarnings.test.ts"
  ]
})
