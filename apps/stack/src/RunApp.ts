import { Command } from "@effect/platform"
import { Effect } from "effect"

/**
 * Runs one app's built entry point until it exits; interrupting this sends it SIGTERM and waits
 * for it to exit (the release of `Command.start`), so that the apps have drained before the
 * database stops. The app's stdin is a pipe from this process and `CLINIC_EXIT_WITH_PARENT=1`
 * makes it stop when that pipe closes: if the launcher dies, even by SIGKILL, so do its apps.
 */
export const runApp = (name: string, entry: string, env: Record<string, string>) =>
  Effect.gen(function*() {
    const process = yield* Command.make(globalThis.process.execPath, "--enable-source-maps", entry).pipe(
      Command.env({ ...env, CLINIC_EXIT_WITH_PARENT: "1" }),
      Command.stdin("pipe"),
      Command.stdout("inherit"),
      Command.stderr("inherit"),
      Command.start
    )
    yield* Effect.logInfo("app started").pipe(Effect.annotateLogs({ app: name, pid: process.pid }))
    const code = yield* process.exitCode
    return yield* Effect.dieMessage(`${name} exited with code ${code}`)
  }).pipe(Effect.scoped)
