import { Clock, Duration, Effect, Exit, Fiber, Queue, type Scope } from "effect"

/**
 * Watches the runs of one worker with one fiber: it renews each run's lease every `renewEvery`
 * and interrupts a handler at its deadline. A run's handler runs in a fiber of its own, which the
 * run awaits. One fiber and one timer for all runs, instead of a watchdog fiber raced against the
 * handler in every run: that race (two forks and a timer per run) cost about a quarter of a no-op
 * task's time at concurrency 8.
 */
export interface Watchdog {
  /**
   * Runs `handler` under watch: its exit, or `Exit.fail(onTimeout())` once it was interrupted at
   * `timeout`. Interrupting the caller interrupts the handler and waits for it to end.
   */
  readonly watch: <A, E, R, T>(
    handler: Effect.Effect<A, E, R>,
    options: {
      readonly timeout: Duration.Duration
      readonly renewEvery: Duration.Duration
      readonly renew: Effect.Effect<void>
      readonly onTimeout: () => T
    }
  ) => Effect.Effect<Exit.Exit<A, E | T>, never, R>
}

interface Watched {
  readonly fiber: Fiber.RuntimeFiber<unknown, unknown>
  readonly deadline: number
  readonly renewEvery: number
  readonly renew: Effect.Effect<void>
  nextRenewal: number
  timedOut: boolean
}

/** A watchdog whose fiber, and the renewals it started, end with the scope. */
export const make: Effect.Effect<Watchdog, never, Scope.Scope> = Effect.gen(function*() {
  const scope = yield* Effect.scope
  const watched = new Set<Watched>()
  // Told when a run needs the fiber earlier than it would wake; a signal sent while the fiber is
  // not waiting stays in the queue, so the fiber looks again before it waits.
  const changed = yield* Queue.sliding<void>(1)
  // When the fiber wakes next; -Infinity while it looks over the runs (every new run signals then).
  let wakeAt = Number.NEGATIVE_INFINITY

  yield* Effect.gen(function*() {
    while (true) {
      wakeAt = Number.NEGATIVE_INFINITY
      const now = yield* Clock.currentTimeMillis
      let next = Number.POSITIVE_INFINITY
      for (const run of watched) {
        if (run.timedOut) continue
        if (now >= run.deadline) {
          run.timedOut = true
          yield* Fiber.interruptFork(run.fiber)
          continue
        }
        if (now >= run.nextRenewal) {
          run.nextRenewal = now + run.renewEvery
          // On a fiber of its own: a renewal stuck on a lost database must not hold up deadlines.
          yield* Effect.forkIn(Effect.interruptible(run.renew), scope)
        }
        next = Math.min(next, run.deadline, run.nextRenewal)
      }
      wakeAt = next
      yield* next === Number.POSITIVE_INFINITY
        ? changed.take
        : Effect.raceFirst(Effect.sleep(Duration.millis(next - now)), changed.take)
    }
  }).pipe(
    // Interruptible wherever it is made (a `runOne` makes it while it may not be interrupted).
    Effect.interruptible,
    Effect.forkIn(scope)
  )

  return {
    watch: (handler, options) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const fiber = yield* Effect.fork(restore(handler))
          const renewEvery = Duration.toMillis(options.renewEvery)
          const run: Watched = {
            fiber,
            deadline: now + Duration.toMillis(options.timeout),
            renewEvery,
            renew: options.renew,
            nextRenewal: now + renewEvery,
            timedOut: false
          }
          watched.add(run)
          if (Math.min(run.deadline, run.nextRenewal) < wakeAt) yield* changed.offer(undefined)
          const exit = yield* restore(Fiber.await(fiber)).pipe(
            Effect.onInterrupt(() => Fiber.interrupt(fiber)),
            Effect.ensuring(Effect.sync(() => watched.delete(run)))
          )
          return run.timedOut && Exit.isInterrupted(exit) ? Exit.fail(options.onTimeout()) : exit
        })
      )
  }
})
