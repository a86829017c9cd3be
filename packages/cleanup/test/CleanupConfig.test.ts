import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Either, Layer } from "effect"
import { CleanupConfig, defaults } from "../src/CleanupConfig.js"

const load = (env: Record<string, string>) =>
  CleanupConfig.load.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))

describe("CleanupConfig", () => {
  it.effect("reads each setting from its variable", () =>
    Effect.gen(function*() {
      const config = yield* load({
        CLEANUP_BATCH_SIZE: "250",
        CLEANUP_TIME_BUDGET: "10 seconds",
        CLEANUP_INACTIVE_AFTER: "2 hours"
      })
      assert.strictEqual(config.batchSize, 250)
      assert.isTrue(Duration.equals(config.timeBudget, Duration.seconds(10)))
      assert.isTrue(Duration.equals(config.inactiveAfter, Duration.hours(2)))
    }))

  it.effect("falls back to the defaults", () =>
    Effect.gen(function*() {
      const config = yield* load({})
      assert.strictEqual(config.batchSize, defaults.batchSize)
      assert.isTrue(Duration.equals(config.timeBudget, defaults.timeBudget))
      assert.isTrue(Duration.equals(config.inactiveAfter, defaults.inactiveAfter))
      assert.strictEqual(defaults.batchSize, 1000)
      assert.isTrue(Duration.equals(defaults.timeBudget, Duration.seconds(45)))
      assert.isTrue(Duration.equals(defaults.inactiveAfter, Duration.hours(24)))
    }))

  it.effect("accepts a batch size from 1 to 100000 and refuses one outside", () =>
    Effect.gen(function*() {
      for (const size of [1, 100_000]) {
        assert.strictEqual((yield* load({ CLEANUP_BATCH_SIZE: String(size) })).batchSize, size)
      }
      for (const size of [0, 100_001]) {
        const result = yield* Effect.either(load({ CLEANUP_BATCH_SIZE: String(size) }))
        assert.isTrue(Either.isLeft(result))
        if (Either.isLeft(result)) {
          assert.include(String(result.left), "CLEANUP_BATCH_SIZE must be between 1 and 100000")
        }
      }
    }))

  it.effect("the service layer reads the same settings", () =>
    Effect.gen(function*() {
      const config = yield* CleanupConfig
      assert.strictEqual(config.batchSize, 7)
    }).pipe(
      Effect.provide(
        CleanupConfig.Default.pipe(
          Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["CLEANUP_BATCH_SIZE", "7"]]))))
        )
      )
    ))

  it.effect("layerTest puts overrides on the defaults", () =>
    Effect.gen(function*() {
      const config = yield* CleanupConfig
      assert.strictEqual(config.batchSize, 3)
      assert.isTrue(Duration.equals(config.timeBudget, defaults.timeBudget))
    }).pipe(Effect.provide(CleanupConfig.layerTest({ batchSize: 3 }))))
})
