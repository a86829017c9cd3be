import { Logging, projectRoot, Settings } from "@clinic/foundation"
import { Database } from "@clinic/repository"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Effect, Fiber, Option, Redacted } from "effect"
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
  // Forked in this scope after the database started, so that its close stops them (SIGTERM, then
  // waiting for both to exit) before the database. Raced directly, they would only be interrupted
  // once the race's fiber ended, after the scope had stopped the database under them: the
  // scheduler's stop could not remove its heartbeat, nor could drained jobs record their end.
  const apps = yield* Effect.forkScoped(Effect.all([
    runApp("api", Path.join(root, "apps/api/dist/main.js"), env),
    runApp("scheduler", Path.join(root, "apps/scheduler/dist/main.js"), env)
  ], { concurrency: "unbounded", discard: true }))
  // An embedded server that dies (killed, out of disk) leaves the apps retrying against nothing.
  const database = Option.match(embedded, {
    onNone: () => Effect.never,
    onSome: (server) =>
      Effect.flatMap(server.exited, (code) => Effect.dieMessage(`the embedded PostgreSQL exited (code ${code})`))
  })
  // If either app or the database stops by itself, the stack stops: a half-running backend helps
  // nobody. An app that exits interrupts the other (SIGTERM, waited for); then the scope stops the database.
  yield* Effect.raceFirst(Fiber.join(apps), database)
}).pipe(Effect.scoped)

// The apps inherit the environment, `LOG_FORMAT` and `LOG_LEVEL` included, so all three log alike.
program.pipe(
  Effect.provide(Settings.layer(Database.DatabaseConfig)),
  Effect.provide(NodeContext.layer),
  Logging.withProcessLogger,
  (program) => NodeRuntime.runMain(program, { disableErrorReporting: true, disablePrettyLogger: true })
)
