import { Config, Duration, Effect, Layer } from "effect"

export interface CleanupSettings {
  /** Rows in a run's first batch; each batch is one short transaction, sized by its time from there. */
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

const settings: Config.Config<CleanupSettings> = Config.all({
  batchSize: Config.integer("CLEANUP_BATCH_SIZE").pipe(
    Config.validate({
      message: "CLEANUP_BATCH_SIZE must be between 1 and 100000",
      validation: (n) => n >= 1 && n <= 100_000
    }),
    Config.withDefault(defaults.batchSize)
  ),
  timeBudget: Config.duration("CLEANUP_TIME_BUDGET").pipe(Config.withDefault(defaults.timeBudget)),
  inactiveAfter: Config.duration("CLEANUP_INACTIVE_AFTER").pipe(Config.withDefault(defaults.inactiveAfter))
})

/** Read from `CLEANUP_BATCH_SIZE`, `CLEANUP_TIME_BUDGET`, `CLEANUP_INACTIVE_AFTER`. */
export class CleanupConfig extends Effect.Service<CleanupConfig>()("@clinic/cleanup/CleanupConfig", {
  effect: settings
}) {
  /** For `Settings.layer`, which loads it together with the other config services of the app. */
  static readonly load = Effect.map(settings, (values) => CleanupConfig.make(values))

  /** Tests: the defaults with `overrides` on top. */
  static readonly layerTest = (overrides: Partial<CleanupSettings> = {}) =>
    Layer.succeed(CleanupConfig, CleanupConfig.make({ ...defaults, ...overrides }))
}
