import { Config, Effect, Layer } from "effect"

/**
 * With `CLINIC_EXIT_WITH_PARENT=1` (what the stack launcher sets), the process stops when its
 * stdin closes. The launcher holds the other end of that pipe, and the kernel closes it whenever
 * the launcher ends, even by SIGKILL: its apps never outlive it, writing logs against a database
 * that is gone. The stop is a SIGTERM to ourselves, so it takes the one graceful path of
 * `NodeRuntime.runMain` (finalizers, drain budgets). Unset, stdin is left alone.
 */
export const layer = Layer.scopedDiscard(
  Effect.gen(function*() {
    const enabled = yield* Config.boolean("CLINIC_EXIT_WITH_PARENT").pipe(Config.withDefault(false), Effect.orDie)
    if (!enabled) return
    const stop = () => process.kill(process.pid, "SIGTERM")
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        process.stdin.once("end", stop)
        process.stdin.once("error", stop)
        // Reading is what notices the end; nothing is ever written to this pipe.
        process.stdin.resume()
      }),
      () =>
        Effect.sync(() => {
          process.stdin.removeListener("end", stop)
          process.stdin.removeListener("error", stop)
          // Released, it must not hold the event loop open: the process is stopping.
          process.stdin.destroy()
        })
    )
  })
)
