/**
 * What an operator reads about an outage of a dependency (the database): one warning with its
 * cause when failures start, one info when a success follows, and nothing per failed attempt in
 * between, however many requests or samples fail alike. A long outage repeats its warning with
 * backoff (30 s, then doubling up to 5 minutes by default), so that it stays visible in a log
 * window without flooding it.
 *
 * Each owner (an HTTP middleware, a sampler) makes its own with its own words; its state lives
 * with the owner, and time comes from the Clock (so TestClock drives the repeats).
 */
import { Cause, Clock, Duration, Effect, Ref } from "effect"
import { type Backoff, backoffDelay } from "./BackgroundLoop.js"

export interface Options {
  /** The warning when failures start (and its repeats), e.g. `database unreachable; answering 503`. */
  readonly failing: string
  /** The info when a success follows, e.g. `database reachable again; recovered`. */
  readonly recovered: string
  /** Between repeats of the warning while failures go on. */
  readonly repeat?: Backoff
}

export const defaultRepeat: Backoff = { initial: "30 seconds", max: "5 minutes" }

export interface OutageLog {
  /**
   * A failed attempt. `cause` is a `Cause` (logged as the line's cause) or anything else (its
   * text becomes the `cause` annotation, without a stack trace).
   */
  readonly failed: (cause: unknown) => Effect.Effect<void>
  /**
   * A successful attempt that began at `startedAt` (epoch ms, default now). An attempt that began
   * before the outage was noticed proves nothing about now (it may have used the database just
   * before it went away), so it does not end the outage.
   */
  readonly succeeded: (startedAt?: number) => Effect.Effect<void>
  /** Whether failures are going on now. */
  readonly failing: Effect.Effect<boolean>
}

type State =
  | { readonly _tag: "Up" }
  | {
    readonly _tag: "Down"
    readonly since: number
    readonly failures: number
    /** Warnings logged so far in this outage (the first included). */
    readonly warnings: number
    readonly nextWarningAt: number
  }

const up: State = { _tag: "Up" }

const seconds = (ms: number) => Math.round(ms / 1000)

export const make = (options: Options): Effect.Effect<OutageLog> =>
  Effect.gen(function*() {
    const repeat = options.repeat ?? defaultRepeat
    const state = yield* Ref.make<State>(up)

    const warn = (cause: unknown, annotations: Record<string, unknown>) =>
      Cause.isCause(cause)
        ? Effect.logWarning(options.failing, cause).pipe(Effect.annotateLogs(annotations))
        : Effect.logWarning(options.failing).pipe(Effect.annotateLogs({ ...annotations, cause: String(cause) }))

    const failed = (cause: unknown) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        // Decided atomically: of many requests failing at once, exactly one logs.
        const warning = yield* Ref.modify(state, (s): [Record<string, unknown> | undefined, State] => {
          if (s._tag === "Up") {
            return [{}, {
              _tag: "Down",
              since: now,
              failures: 1,
              warnings: 1,
              nextWarningAt: now + Duration.toMillis(backoffDelay(repeat, 1))
            }]
          }
          const failures = s.failures + 1
          if (now < s.nextWarningAt) return [undefined, { ...s, failures }]
          const warnings = s.warnings + 1
          return [
            { failingForSeconds: seconds(now - s.since), failures },
            { ...s, failures, warnings, nextWarningAt: now + Duration.toMillis(backoffDelay(repeat, warnings)) }
          ]
        })
        if (warning !== undefined) yield* warn(cause, warning)
      })

    // Nearly every call finds no outage going on: one read then, not a clock read and a modify.
    const succeeded = (startedAt?: number) =>
      Effect.flatMap(Ref.get(state), (s) => s._tag === "Up" ? Effect.void : recovered(startedAt))

    const recovered = (startedAt?: number) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const began = startedAt ?? now
        const ended = yield* Ref.modify(
          state,
          (s): [State | undefined, State] => s._tag === "Down" && began >= s.since ? [s, up] : [undefined, s]
        )
        if (ended?._tag === "Down") {
          yield* Effect.logInfo(options.recovered).pipe(
            Effect.annotateLogs({ failingForSeconds: seconds(now - ended.since), failures: ended.failures })
          )
        }
      })

    return {
      failed,
      succeeded,
      failing: Effect.map(Ref.get(state), (s) => s._tag === "Down")
    }
  })
