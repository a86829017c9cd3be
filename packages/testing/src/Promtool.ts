import { Effect } from "effect"
import * as NodeChildProcess from "node:child_process"

/**
 * Runs `promtool check metrics` (Debian package `prometheus`) on a Prometheus text exposition:
 * fails with promtool's findings when it finds any, and when promtool is not installed (`.ci/run`
 * installs it), so that a missing linter never passes as a clean one.
 */
export const checkMetrics = (text: string): Effect.Effect<void, Error> =>
  Effect.async<void, Error>((resume) => {
    const child = NodeChildProcess.spawn("promtool", ["check", "metrics"], { stdio: ["pipe", "pipe", "pipe"] })
    let output = ""
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.on("error", (error) =>
      resume(
        Effect.fail(new Error(`promtool could not run (install the Debian package prometheus): ${error.message}`))
      ))
    child.on("close", (code) =>
      resume(code === 0 ? Effect.void : Effect.fail(new Error(`promtool check metrics (exit ${code}):\n${output}`))))
    child.stdin.end(text)
  })
