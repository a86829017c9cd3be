import { Command } from "@effect/platform"
import { Effect } from "effect"

/** Runs one app's built entry point until it exits; interrupting this sends it SIGTERM and waits. */
export const runApp = (name: string, entry: string, env: Record<string, string>) =>
  Effect.gen(function*() {
    const process = yield* Command.make(globalThis.process.execPath, "--enable-source-maps", entry).pipe(
      Command.env(env),
      Command.stdout("inherit"),
      Command.stderr("inherit"),
      Command.start
    )
    yield* Effect.logInfo("app started").pipe(Effect.annotateLogs({ app: name, pid: process.pid }))
    const code = yield* process.exitCode
    return yield* Effect.dieMessage(`${name} exited with code ${code}`)
  }).pipe(Effect.scoped)
