import { Effect } from "effect"
import * as NodeChildProcess from "node:child_process"

/**
 * A Node program in a process of its own for the life of the scope (benchmarks measure servers
 * apart from the load generator). Closing the scope sends SIGTERM, and SIGKILL after 10 s.
 */
export const spawnNode = (
  args: ReadonlyArray<string>,
  options: { readonly cwd: string; readonly env: NodeJS.ProcessEnv }
) =>
  Effect.acquireRelease(
    Effect.sync(() =>
      NodeChildProcess.spawn(process.execPath, [...args], {
        cwd: options.cwd,
        env: options.env,
        stdio: ["ignore", "ignore", "inherit"]
      })
    ),
    (child) =>
      Effect.async<void>((resume) => {
        // A child killed by a signal (a test's own `kill -9`) has no exit code, only a signal.
        if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000)
        child.once("exit", () => {
          clearTimeout(timer)
          resume(Effect.void)
        })
        child.kill("SIGTERM")
      })
  )
