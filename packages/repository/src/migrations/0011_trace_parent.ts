import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

// The W3C `traceparent` of the span that wrote the row, so that its delivery and its run continue
// that trace in whichever process picks them up. Null for rows written outside any span (and for
// every row written before this migration).
export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE outbox_events ADD COLUMN trace_parent text`
  yield* sql`ALTER TABLE tasks ADD COLUMN trace_parent text`
})
