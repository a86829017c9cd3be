import { Logging, projectRoot, Settings } from "@clinic/foundation"
import { Database } from "@clinic/repository"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Effect, Redacted } from "effect"
import * as Path from "node:path"
import { runApp } from "./RunApp.js"

/**
 * One command for a whole local backend: a single embedded Postgres (or `DATABASE_URL`) shared by
 * the API and the scheduler, each in its own process as in production. Interrupting this program
 * stops the apps first, then the database.
 */
const program = Effect.gen(function*() {
  const url = yield* Database.serverUrl
  const root = projectRoot()
  const env = { DATABASE_URL: Redacted.value(url) }
  const api = runApp("api", Path.join(root, "apps/api/dist/main.js"), env)
  const scheduler = runApp("scheduler", Path.join(root, "apps/scheduler/dist/main.js"), env)
  // If either app stops by itself, the stack stops: a half-running backend helps nobody.
  yield* Effect.raceFirst(api, scheduler)
}).pipe(Effect.scoped)

// The apps inherit the environment, `LOG_FORMAT` and `LOG_LEVEL` included, so all three log alike.
program.pipe(
  Effect.provide(Settings.layer(Database.DatabaseConfig)),
  Effect.provide(NodeContext.layer),
  Logging.withProcessLogger,
  (program) => NodeRuntime.runMain(program, { disableErrorReporting: true, disablePrettyLogger: true })
)
