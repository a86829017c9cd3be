/**
 * A background loop owned by a layer: its state, its fibers (forked in the owner's scope), a stop
 * that drains under a budget, and backoff with quiet logging while a dependency is away.
 *
 * Each start builds its iterations in a fresh scope (closed at stop), so a loop can be started
 * again after a stop, and whatever the iterations need (a worker, a listener) lives exactly as long.
 */
import {
  Cause,
  Clock,
  Deferred,
  Duration,
  Effect,
  ExecutionStrategy,
  Exit,
  Fiber,
  FiberSet,
  Option,
  Ref,
  Scope,
  Stream
} from "effect"

/** `not-started` until the first start; `stopping` while a stop drains. */
export type State = "not-started" | "starting" | "running" | "stopping" | "stopped"

/** Capped exponential: `initial` after the first failure in a row, doubling up to `max`. */
export interface Backoff {
  readonly initial: Duration.DurationInput
  readonly max: Duration.DurationInput
}

export const defaultBackoff: Backoff = { initial: "200 millis", max: "30 seconds" }

/** The wait after the `failures`-th failure in a row (1 for the first). */
export const backoffDelay = (backoff: Backoff, failures: number): Duration.Duration => {
  const initial = Duration.toMillis(Duration.decode(backoff.initial))
  const max = Duration.toMillis(Duration.decode(backoff.max))
  // Past 2^30 the product is beyond any sensible cap anyway; the bound keeps it finite.
  return Duration.millis(Math.min(max, initial * 2 ** Math.min(Math.max(failures - 1, 0), 30)))
}

/** One fiber of the loop: `run` repeatedly, `idle` in between when nothing is waiting. */
export interface Iteration<R = never> {
  /** One unit of work: `true` when more may be waiting (go again at once), `false` to idle first. */
  readonly run: Effect.Effect<boolean, unknown, R>
  /** The wait when nothing is waiting (a poll interval, a wake-up); a stop cuts it short. */
  readonly idle: Effect.Effect<void, never, R>
  /** Overrides the loop's backoff for this iteration. */
  readonly backoff?: Backoff
  /** Further log annotations for this fiber (its queue, its job). */
  readonly annotations?: Readonly<Record<string, unknown>>
}

export interface Options<R> {
  /** The loop's name: the `service` annotation of its logs and the prefix of its spans. */
  readonly name: string
  /** Built at each start in a scope that the stop closes: the iterations, and what they need. */
  readonly iterations: Effect.Effect<ReadonlyArray<Iteration<R>>, never, R | Scope.Scope>
  /** How long a stop waits for running iterations and forked work before interrupting them. */
  readonly drainBudget: Duration.DurationInput
  readonly backoff?: Backoff
  /** Further log annotations for every fiber of the loop. */
  readonly annotations?: Readonly<Record<string, unknown>>
}

export interface BackgroundLoop {
  readonly name: string
  readonly state: Effect.Effect<State>
  /** Whether some iteration's last attempt failed (a dependency is away): for health and metrics. */
  readonly failing: Effect.Effect<boolean>
  /** Builds and forks the iterations; `false` (and nothing happens) when already running. */
  readonly start: Effect.Effect<boolean>
  /**
   * Stops taking new work (idle waits and backoffs end at once), waits up to `budget` (default: the
   * drain budget) for running iterations and forked work, then interrupts the rest and closes the
   * start's scope. `false` when it was not running; a stop during a stop waits for the first.
   */
  readonly stop: (budget?: Duration.DurationInput) => Effect.Effect<boolean>
  /**
   * Forks work the loop launched that outlives one iteration (a job run): a stop drains it within
   * the same budget. It lives in the owner's scope, so it also works while the loop is stopped.
   */
  readonly fork: <A, E, R>(work: Effect.Effect<A, E, R>) => Effect.Effect<Fiber.RuntimeFiber<A, E>, never, R>
}

interface Running {
  readonly scope: Scope.CloseableScope
  readonly stopping: Deferred.Deferred<void>
  readonly fibers: ReadonlyArray<Fiber.RuntimeFiber<void>>
}

/**
 * Makes a loop (not started) in the current scope; closing that scope stops it under its budget.
 * Failures of an iteration never end the loop: it backs off on the Clock (so TestClock drives it)
 * and logs one warning, with the cause, when the first iteration starts failing and one info when
 * the last failing one succeeds again, instead of a stack trace per attempt.
 */
export const make = <R>(options: Options<R>): Effect.Effect<BackgroundLoop, never, R | Scope.Scope> =>
  Effect.gen(function*() {
    const context = yield* Effect.context<R>()
    const drainBudget = Duration.decode(options.drainBudget)
    const annotations = { service: options.name, ...options.annotations }
    const state = yield* Ref.make<State>("not-started")
    const current = yield* Ref.make<Option.Option<Running>>(Option.none())
    const lifecycle = yield* Effect.makeSemaphore(1)
    const forked = yield* FiberSet.make<unknown, unknown>()
    // How many iterations are failing now: the loop logs only when this leaves or returns to 0.
    const failingCount = yield* Ref.make(0)

    const iterate = (iteration: Iteration<R>, stopping: Deferred.Deferred<void>) => {
      const backoff = iteration.backoff ?? options.backoff ?? defaultBackoff
      const untilStop = <A>(wait: Effect.Effect<A, never, R>) => Effect.raceFirst(wait, Deferred.await(stopping))
      let failures = 0
      return Effect.gen(function*() {
        while (!(yield* Deferred.isDone(stopping))) {
          const exit = yield* Effect.exit(iteration.run)
          if (Exit.isSuccess(exit)) {
            if (failures > 0) {
              failures = 0
              if ((yield* Ref.updateAndGet(failingCount, (n) => n - 1)) === 0) {
                yield* Effect.logInfo(`${options.name} recovered`)
              }
            }
            if (!exit.value) yield* untilStop(iteration.idle)
            continue
          }
          if (Cause.isInterruptedOnly(exit.cause)) return yield* Effect.interrupt
          failures++
          if (failures === 1 && (yield* Ref.getAndUpdate(failingCount, (n) => n + 1)) === 0) {
            yield* Effect.logWarning(`${options.name} failing; backing off until it recovers`, exit.cause)
          }
          yield* untilStop(Effect.sleep(backoffDelay(backoff, failures)))
        }
      }).pipe(
        // An interrupted fiber that was failing leaves no failing mark behind.
        Effect.ensuring(Effect.suspend(() => failures > 0 ? Ref.update(failingCount, (n) => n - 1) : Effect.void)),
        Effect.annotateLogs({ ...annotations, ...iteration.annotations }),
        Effect.provide(context)
      )
    }

    // Uninterruptible: once its scope exists, a start must record it for the stop to close. What it
    // forks stays interruptible (a fork inherits its parent's interruptibility).
    const start = lifecycle.withPermits(1)(
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          const was = yield* Ref.get(state)
          if (was === "running" || was === "starting") return false
          yield* Ref.set(state, "starting")
          // Not a child of the owner's scope: a child would close (interrupting the iterations) before
          // the owner's stop finalizer could drain them. The stop closes it, and the owner runs the stop.
          const scope = yield* Scope.make(ExecutionStrategy.sequential)
          const stopping = yield* Deferred.make<void>()
          // Restored: what the setup forks (a listener) must stay interruptible, like the iterations.
          const iterations = yield* restore(options.iterations).pipe(
            Scope.extend(scope),
            Effect.provide(context),
            // A start that dies building its iterations leaves nothing behind and can be tried again.
            Effect.onExit((exit) =>
              Exit.isSuccess(exit) ? Effect.void : Effect.zipRight(Scope.close(scope, exit), Ref.set(state, was))
            )
          )
          const fibers = yield* Effect.forEach(
            iterations,
            (iteration) => Effect.forkIn(Effect.interruptible(iterate(iteration, stopping)), scope)
          )
          yield* Ref.set(current, Option.some({ scope, stopping, fibers }))
          yield* Ref.set(state, "running")
          return true
        })
      )
    ).pipe(
      Effect.withSpan("BackgroundLoop.start", { attributes: { loop: options.name } }),
      Effect.annotateLogs(annotations)
    )

    const stop = Effect.fn("BackgroundLoop.stop")(
      function*(budget?: Duration.DurationInput) {
        return yield* lifecycle.withPermits(1)(Effect.gen(function*() {
          const running = yield* Ref.get(current)
          if (Option.isNone(running)) return false
          const { fibers, scope, stopping } = running.value
          yield* Ref.set(state, "stopping")
          yield* Deferred.succeed(stopping, undefined)
          // Finalizers run uninterruptibly; the wait itself must stay interruptible for the budget to cut it.
          const drained = yield* Fiber.awaitAll(fibers).pipe(
            Effect.zipRight(FiberSet.awaitEmpty(forked)),
            Effect.interruptible,
            Effect.timeoutOption(budget ?? drainBudget)
          )
          if (Option.isNone(drained)) {
            yield* Effect.logWarning("drain budget spent; interrupting what still runs")
            yield* Fiber.interruptAll(fibers)
            yield* FiberSet.clear(forked)
          }
          yield* Scope.close(scope, Exit.void)
          yield* Ref.set(current, Option.none())
          yield* Ref.set(state, "stopped")
          return true
        }))
      },
      Effect.annotateLogs(annotations),
      Effect.annotateSpans({ loop: options.name })
    )

    yield* Effect.addFinalizer(() => stop())

    return {
      name: options.name,
      state: Ref.get(state),
      failing: Effect.map(Ref.get(failingCount), (n) => n > 0),
      start,
      stop,
      fork: (work) => FiberSet.run(forked)(work)
    }
  })

export interface ListenOptions<R> {
  /** The `service` annotation of its logs. */
  readonly name: string
  /** The subscription (a Postgres LISTEN); it ends or fails when its connection is lost. */
  readonly notifications: Stream.Stream<string, unknown, R>
  /** Sends a payload through the same channel: how the listener learns its subscription is live. */
  readonly ping: (payload: string) => Effect.Effect<void, unknown, R>
  readonly onNotification: (payload: string) => Effect.Effect<void, never, R>
  /** Between attempts to subscribe again; default 5 seconds doubling up to 30. */
  readonly backoff?: Backoff
}

/**
 * Keeps a subscription alive in the current scope and returns whether it is live now. While it is
 * lost, the owner finds work by polling; it subscribes again with backoff, with one warning when
 * the subscription is lost and one info when it is live again.
 */
export const listen = <R>(options: ListenOptions<R>): Effect.Effect<Effect.Effect<boolean>, never, R | Scope.Scope> =>
  Effect.gen(function*() {
    const backoff = options.backoff ?? { initial: "5 seconds", max: "30 seconds" }
    const listening = yield* Ref.make(false)
    const probe = `probe:${crypto.randomUUID()}`
    let failures = 0
    const live = Effect.gen(function*() {
      yield* Ref.set(listening, true)
      if (failures > 0) {
        failures = 0
        yield* Effect.logInfo(`${options.name} notifications are back`)
      }
    })
    // The subscription is established asynchronously; a probe of our own tells when it is live.
    // Real time on purpose: this waits for I/O, not for business time.
    const probing = options.ping(probe).pipe(
      Effect.ignore,
      Effect.zipRight(Effect.sleep("50 millis")),
      Effect.repeat({ until: () => Ref.get(listening), times: 200 }),
      Effect.withClock(Clock.make())
    )
    const subscription = Effect.scoped(Effect.zipRight(
      Effect.forkScoped(probing),
      Stream.runForEach(options.notifications, (payload) => payload === probe ? live : options.onNotification(payload))
    ))
    yield* Effect.gen(function*() {
      while (true) {
        const exit = yield* Effect.exit(subscription)
        yield* Ref.set(listening, false)
        failures++
        if (failures === 1) {
          yield* Effect.logWarning(
            `${options.name} notifications lost; polling until they are back`,
            Exit.isFailure(exit) ? exit.cause : "the subscription ended"
          )
        }
        yield* Effect.sleep(backoffDelay(backoff, failures))
      }
    }).pipe(Effect.annotateLogs({ service: options.name }), Effect.forkScoped)
    return Ref.get(listening)
  })
