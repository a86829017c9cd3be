import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Layer } from "effect"
import { ApiConfig } from "../src/ApiConfig.js"

const withEnv = (env: Record<string, string>) =>
  ApiConfig.Default.pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))))

describe("ApiConfig", () => {
  it.effect("the booking hold is 15 minutes unless BOOKING_HOLD says otherwise", () =>
    Effect.gen(function*() {
      const defaults = yield* Effect.provide(ApiConfig, withEnv({}))
      assert.isTrue(Duration.equals(defaults.bookingHold, Duration.minutes(15)))
      const demo = yield* Effect.provide(ApiConfig, withEnv({ BOOKING_HOLD: "10 seconds" }))
      assert.isTrue(Duration.equals(demo.bookingHold, Duration.seconds(10)))
      const bad = yield* Effect.flip(Effect.provide(ApiConfig, withEnv({ BOOKING_HOLD: "soon" })))
      assert.include(String(bad), "BOOKING_HOLD")
    }))
})
