/**
 * The migrations alone, on `DATABASE_URL` (or the embedded server, started and stopped):
 *
 *   migrate            applies every pending migration and exits
 *   migrate --status   lists the applied and the pending migrations, changing nothing
 *
 * Bundled into each app's `dist/migrate.js` (the production bundle); `pnpm migrate` in a checkout.
 */
import { Logging } from "@clinic/foundation"
import { NodeRuntime } from "@effect/platform-node"
import type { Scope } from "effect"
import { Console, DateTime, Effect, Layer } from "effect"
import * as Database from "../Database.js"
import * as Migrations from "../Migrations.js"

const USAGE = "usage: migrate [--status]"

const printStatus = Effect.gen(function*() {
  const { applied, pending } = yield* Migrations.status
  const label = (id: number, name: string) => `${String(id).padStart(4, "0")}_${name}`
  const width = Math.max(0, ...[...applied, ...pending].map(({ id, name }) => label(id, name).length))
  for (const migration of applied) {
    const note = migration.inThisBuild ? "" : "  (not in this build: applied by a newer release)"
    yield* Console.log(
      `applied  ${label(migration.id, migration.name).padEnd(width)}  ${DateTime.formatIso(migration.appliedAt)}${note}`
    )
  }
  for (const migration of pending) yield* Console.log(`pending  ${label(migration.id, migration.name)}`)
  yield* Console.log(`${applied.length} applied, ${pending.length} pending`)
}).pipe(Effect.provide(Database.layerClient))

const args = process.argv.slice(2)
const program: Effect.Effect<void, unknown, Scope.Scope | Database.DatabaseConfig> = args.length === 0
  ? Layer.build(Database.layer).pipe(Effect.asVoid)
  : args.length === 1 && args[0] === "--status"
  ? printStatus
  : Effect.fail(`${USAGE} (got: ${args.join(" ")})`)

program.pipe(
  Effect.scoped,
  Effect.provide(Database.DatabaseConfig.Default),
  Logging.withProcessLogger,
  (program) => NodeRuntime.runMain(program, { disableErrorReporting: true, disablePrettyLogger: true })
)
