import { bundleNode, isRunning } from "@clinic/testing/ChildProcess"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll } from "vitest"

const FIXTURES = Path.join(Path.dirname(fileURLToPath(import.meta.url)), "fixtures")

// The app fixture, bundled once for the file: both tests start the same program.
const bundles = Effect.runSync(Scope.make())
let app: string
beforeAll(async () => {
  app = await Effect.runPromise(Scope.extend(bundleNode(Path.join(FIXTURES, "app.ts")), bundles))
})
afterAll(() => Effect.runPromise(Scope.close(bundles, Exit.void)))

/**
 * Starts the launcher fixture (which starts the app fixture, stdin a pipe, in a process group of
 * its own as `apps/stack` does), waits for the app's pid, then SIGKILLs the launcher; the app's
 * pid and whether it was still running `afterMs` after the kill. The app is killed at the end.
 */
const killLauncher = (env: NodeJS.ProcessEnv, afterMs: number) =>
  Effect.acquireUseRelease(
    Effect.sync(() =>
      ChildProcess.spawn(process.execPath, [Path.join(FIXTURES, "launcher.mjs"), app], {
        cwd: Path.join(FIXTURES, "..", ".."),
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "inherit"]
      })
    ),
    (launcher) =>
      Effect.gen(function*() {
        const pid = yield* Effect.async<number>((resume) => {
          launcher.stdout.on("data", (chunk) => {
            const match = /app (\d+)/.exec(String(chunk))
            if (match) resume(Effect.succeed(Number(match[1])))
          })
        }).pipe(Effect.timeoutFail({ duration: "30 seconds", onTimeout: () => new Error("the app did not start") }))
        launcher.kill("SIGKILL")
        const deadline = Date.now() + afterMs
        while (isRunning(pid) && Date.now() < deadline) yield* Effect.sleep("50 millis")
        const stillRunning = isRunning(pid)
        if (stillRunning) process.kill(pid, "SIGKILL")
        return stillRunning
      }),
    (launcher) => Effect.sync(() => launcher.kill("SIGKILL"))
  )

describe("ExitWithParent", () => {
  it.live(
    "with CLINIC_EXIT_WITH_PARENT=1 an app stops when its launcher is killed with SIGKILL",
    () =>
      Effect.gen(function*() {
        assert.isFalse(yield* killLauncher({ CLINIC_EXIT_WITH_PARENT: "1" }, 5_000))
      }),
    60_000
  )

  it.live(
    "without it the app outlives its launcher (an orphan): what the setting is for",
    () =>
      Effect.gen(function*() {
        assert.isTrue(yield* killLauncher({ CLINIC_EXIT_WITH_PARENT: "0" }, 1_500))
      }),
    60_000
  )
})
