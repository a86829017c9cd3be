import { mutationConfig } from "../../stryker.base.mjs"

export default mutationConfig({
  // The memory outbox (from `makeMemory` on) and the bus; the Postgres outbox is SQL that only the
  // Postgres suites exercise, and they are left out for time.
  mutate: ["src/EventBus.ts", "src/OutboxStore.ts:166-243"],
  testFiles: ["test/Memory.test.ts", "test/Relay.test.ts", "test/Tracing.test.ts", "test/OutboxOrder.test.ts"]
})
