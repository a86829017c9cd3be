import { Duration, type Effect } from "effect"
import type { JobSchedule } from "./JobSchedule.js"

/** What to do with ticks that passed while no replica could run them (downtime, deploys, a lost database). */
export type MissedRunPolicy = "skip" | "runOnce"

export interface Job {
  readonly name: string
  readonly schedule: JobSchedule
  /** The work of one tick. Its success value is stored as the run's JSON result. */
  readonly run: Effect.Effect<unknown, unknown>
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
  readonly run: Effect.Effect<unknown, unknown>
  readonly timeout?: Duration.DurationInput
  readonly missed?: MissedRunPolicy
}): Job => ({
  name: options.name,
  schedule: options.schedule,
  run: options.run,
  timeout: Duration.decode(options.timeout ?? "5 minutes"),
  missed: options.missed ?? "skip"
})
