import type { RunTrigger } from "@clinic/domain"
import { type DateTime, Duration, Effect } from "effect"
import type { JobSchedule } from "./JobSchedule.js"

/** What to do with ticks that passed while no replica could run them (downtime, deploys, a lost database). */
export type MissedRunPolicy = "skip" | "runOnce"

/** The tick a run belongs to: its scheduled time (the claim's key) and why it runs. */
export interface Tick {
  readonly scheduledAt: DateTime.Utc
  readonly trigger: RunTrigger
}

export interface Job {
  readonly name: string
  readonly schedule: JobSchedule
  /**
   * The work of one tick. Its success value is stored as the run's JSON result. Work that must
   * happen once per tick (enqueueing a task) keys itself on `tick.scheduledAt`.
   */
  readonly run: (tick: Tick) => Effect.Effect<unknown, unknown>
  /** A run that takes longer fails (and is interrupted). */
  readonly timeout: Duration.Duration
  /**
   * `skip`: missed ticks are recorded as skipped. `runOnce`: the latest missed tick runs (trigger
   * `catch-up`), the earlier ones are recorded as skipped. Overlapping ticks are always skipped.
   */
  readonly missed: MissedRunPolicy
}

export const make = (options: {
  readonly name: string
  readonly schedule: JobSchedule
  /** The same work on every tick, or work that depends on the tick. */
  readonly run: Effect.Effect<unknown, unknown> | ((tick: Tick) => Effect.Effect<unknown, unknown>)
  readonly timeout?: Duration.DurationInput
  readonly missed?: MissedRunPolicy
}): Job => {
  const run = options.run
  return {
    name: options.name,
    schedule: options.schedule,
    run: Effect.isEffect(run) ? () => run : run,
    timeout: Duration.decode(options.timeout ?? "5 minutes"),
    missed: options.missed ?? "skip"
  }
}
