import { Duration, Effect, Random } from "effect"

/**
 * Exponential backoff: the n-th retry waits `base * 2^(n-1)`, capped at `max`, minus a random
 * share of up to `jitter` (0..1) of it, so that tasks failing together do not retry together.
 */
export interface Backoff {
  readonly base: Duration.Duration
  readonly max: Duration.Duration
  readonly jitter: number
}

export const make = (options: {
  readonly base: Duration.DurationInput
  readonly max: Duration.DurationInput
  readonly jitter?: number
}): Backoff => ({
  base: Duration.decode(options.base),
  max: Duration.decode(options.max),
  jitter: Math.min(1, Math.max(0, options.jitter ?? 0.5))
})

export const defaultBackoff: Backoff = make({ base: "1 second", max: "10 minutes" })

/** The delay before retry `attempt` (1 for the first retry), given a random number in [0, 1). */
export const delayFor = (backoff: Backoff, attempt: number, random: number): Duration.Duration => {
  const exponential = Duration.toMillis(backoff.base) * 2 ** Math.max(0, attempt - 1)
  const capped = Math.min(Duration.toMillis(backoff.max), exponential)
  return Duration.millis(Math.round(capped * (1 - backoff.jitter * random)))
}

/** `delayFor` with randomness from Effect's `Random`, which tests can seed. */
export const delay = (backoff: Backoff, attempt: number): Effect.Effect<Duration.Duration> =>
  Effect.map(Random.next, (random) => delayFor(backoff, attempt, random))
