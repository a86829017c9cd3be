import { Effect } from "effect"
import * as Esbuild from "esbuild"
import * as NodeChildProcess from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"

/**
 * Bundles a TypeScript entry, npm packages included, into one JavaScript file in a temporary
 * folder removed with the scope: what a test starts as a child with plain `node`. Loading one file
 * takes a fraction of what `--import tsx` spends transpiling and resolving the same module graph:
 * on one loaded core, about 5 s to a first database write instead of 40.
 * `external` lists imports left out of the bundle (optional platform packages the child never loads).
 */
export const bundleNode = (entry: string, options: { readonly external?: ReadonlyArray<string> } = {}) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const dir = await Fs.mkdtemp(Path.join(Os.tmpdir(), "clinic-bundle-"))
      const outfile = Path.join(dir, "main.mjs")
      await Esbuild.build({
        entryPoints: [entry],
        outfile,
        bundle: true,
        platform: "node",
        format: "esm",
        target: "node20",
        logLevel: "error",
        external: [...(options.external ?? [])],
        // CommonJS packages in an ES module bundle `require` Node's built-ins, which needs a real
        // `require` in scope.
        banner: {
          js:
            "import { createRequire as bundleCreateRequire } from \"node:module\"; const require = bundleCreateRequire(import.meta.url);"
        }
      })
      return outfile
    }),
    (outfile) => Effect.promise(() => Fs.rm(Path.dirname(outfile), { recursive: true, force: true }))
  )

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

/** Linux: a process's state can be read (a zombie told from a running process). */
const hasProcStat = existsSync("/proc/self/stat")

/**
 * Whether a process with this pid still runs: signal 0 checks that it exists without sending
 * anything, and on Linux its state must not be a zombie's. An orphan that exited stays a zombie
 * until the machine's init reaps it, which in some containers takes up to two seconds.
 */
export const isRunning = (pid: number) => {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  if (!hasProcStat) return true
  try {
    // The state is the first field after the command, which is in parentheses and may hold spaces.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.charAt(stat.lastIndexOf(")") + 2) !== "Z"
  } catch {
    return false // gone since the signal
  }
}
