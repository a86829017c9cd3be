import { Config, Context, Duration, Effect, Layer } from "effect"

export interface CleanupSettings {
  /** Rows per batch; each batch is one short transaction. */
  readonly batchSize: number
  /** A run stops starting new batches after this long, so it never outlives its interval. */
  readonly timeBudget: Duration.Duration
  /** Default idle time after which a session counts as inactive. */
  readonly inactiveAfter: Duration.Duration
}

export const defaults: CleanupSettings = {
  batchSize: 1000,
  timeBudget: Duration.seconds(45),
  inactiveAfter: Duration.hours(24)
}

export class CleanupConfig extends Context.Tag("@clinic/cleanup/CleanupConfig")<CleanupConfig, CleanupSettings>() {
  /** Read from `CLEANUP_BATCH_SIZE`, `CLEANUP_TIME_BUDGET`, `CLEANUP_INACTIVE_AFTER`. */
  static readonly layer = Layer.effect(
    CleanupConfig,
    Effect.gen(function*() {
      return {
        batchSize: yield* Config.integer("CLEANUP_BATCH_SIZE").pipe(
          Config.validate({ message: "must be between 1 and 100000", validation: (n) => n >= 1 && n <= 100_000 }),
          Config.withDefault(defaults.batchSize)
        ),
        timeBudget: yield* Config.duration("CLEANUP_TIME_BUDGET").pipe(Config.withDefault(defaults.timeBudget)),
        inactiveAfter: yield* Config.duration("CLEANUP_INACTIVE_AFTER").pipe(Config.withDefault(defaults.inactiveAfter))
      }
    })
  )

  static readonly make = (settings: Partial<CleanupSettings> = {}) =>
    Layer.succeed(CleanupConfig, { ...defaults, ...settings })
}
