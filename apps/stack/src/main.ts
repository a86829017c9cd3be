import { Logging, projectRoot, Settings } from "@clinic/foundation"
import { Database } from "@clinic/repository"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Effect, Option, Redacted } from "effect"
import * as Path from "node:path"
import { runApp } from "./RunApp.js"

/**
 * One command for a whole local backend: a single embedded Postgres (or `DATABASE_URL`) shared by
 * the API and the scheduler, each in its own process as in production. Interrupting this program
 * stops the apps first (each drained and exited), then the database.
 */
const program = Effect.gen(function*() {
  const { embedded, url } = yield* Database.server
  const root = projectRoot()
  const env = { DATABASE_URL: Redacted.value(url) }
  const api = runApp("api", Path.join(root, "apps/api/dist/main.js"), env)
  const scheduler = runApp("scheduler", Path.join(root, "apps/scheduler/dist/main.js"), env)
  // An embedded server that dies (killed, out of disk) leaves the apps retrying against nothing.
  const database = Option.match(embedded, {
    onNone: () => Effect.never,
    onSome: (server) =>
      Effect.flatMap(server.exited, (code) => Effect.dieMessage(`the embedded PostgreSQL exited (code ${code})`))
  })
  // If either app or the database stops by itself, the stack stops: a half-running backend helps
  // nobody. The others are interrupted: the apps get SIGTERM and are waited for.
  yield* Effect.raceFirst(Effect.raceFirst(api, scheduler), database)
}).pipe(Effect.scoped)

// The apps inherit the environment, `LOG_FORMAT` and `LOG_LEVEL` included, so all three log alike.
program.pipe(
  Effect.provide(Settings.layer(Database.DatabaseConfig)),
  Effect.provide(NodeContext.layer),
  Logging.withProcessLogger,
  (program) => NodeRuntime.runMain(program, { disableErrorReporting: true, disablePrettyLogger: true })
)
