import { mutationConfig } from "../../stryker.base.mjs"

export default mutationConfig({
  mutate: ["src/**/*.ts", "!src/index.ts"],
  // The contract suite against the memory layers; its Postgres run (SessionCleanupPg) is left out.
  testFiles: ["test/SessionCleanup.test.ts", "test/AuthSessionMediaStore.test.ts", "test/CleanupConfig.test.ts"]
})
