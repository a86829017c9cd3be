import { Settings } from "@clinic/foundation"
import { RecordingsConfig } from "@clinic/recordings"
import { Database } from "@clinic/repository"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Layer } from "effect"
import * as Path from "node:path"
import { ApiConfig } from "../src/ApiConfig.js"

const read = (values: Record<string, string>) =>
  Effect.flatMap(ApiConfig, Effect.succeed).pipe(
    Effect.provide(
      ApiConfig.Default.pipe(
        Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(values)))))
      )
    )
  )

describe("ApiConfig", () => {
  it.effect("defaults: 30-day sessions, 24-hour idle timeout, activity written every 5 minutes", () =>
    Effect.gen(function*() {
      const config = yield* read({})
      assert.isTrue(Duration.equals(config.auth.sessionLifetime, Duration.days(30)))
      assert.isTrue(Duration.equals(config.auth.idleTimeout, Duration.hours(24)))
      assert.isTrue(Duration.equals(config.auth.touchInterval, Duration.minutes(5)))
      assert.isTrue(Path.isAbsolute(config.authSessionMedia.dir))
    }))

  it.effect("durations down to seconds; relative media folders become absolute", () =>
    Effect.gen(function*() {
      const config = yield* read({
        API_SESSION_LIFETIME: "30 seconds",
        API_SESSION_IDLE_TIMEOUT: "10 seconds",
        API_SESSION_TOUCH_INTERVAL: "1 second",
        CLINIC_AUTH_SESSION_MEDIA_DIR: "media-here",
        API_AUTH_SESSION_MEDIA_MAX_BYTES: "2048"
      })
      assert.strictEqual(Duration.toSeconds(config.auth.sessionLifetime), 30)
      assert.strictEqual(Duration.toSeconds(config.auth.idleTimeout), 10)
      assert.strictEqual(config.authSessionMedia.dir, Path.resolve("media-here"))
      assert.strictEqual(config.authSessionMedia.maxBytes, 2048)
    }))

  it.effect("a touch interval not below the idle timeout is refused", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(read({ API_SESSION_IDLE_TIMEOUT: "5 minutes" }))
      assert.include(String(error), "API_SESSION_TOUCH_INTERVAL must be shorter than API_SESSION_IDLE_TIMEOUT")
    }))

  it.effect("the booking hold is 15 minutes unless BOOKING_HOLD says otherwise", () =>
    Effect.gen(function*() {
      assert.isTrue(Duration.equals((yield* read({})).bookingHold, Duration.minutes(15)))
      assert.isTrue(Duration.equals((yield* read({ BOOKING_HOLD: "10 seconds" })).bookingHold, Duration.seconds(10)))
      assert.include(String(yield* Effect.flip(read({ BOOKING_HOLD: "soon" }))), "BOOKING_HOLD")
    }))

  it.effect("every bad setting of the API, its database and its recordings is reported at once, by name", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Layer.build(Settings.layer(ApiConfig, Database.DatabaseConfig, RecordingsConfig.RecordingsConfig)).pipe(
          Effect.scoped,
          Effect.provide(Layer.setConfigProvider(ConfigProvider.fromMap(
            new Map(Object.entries({
              API_PORT: "-1",
              API_SESSION_LIFETIME: "forever",
              API_SCRYPT_LOG_N: "40",
              CLINIC_PG_MAX_CONNECTIONS: "-5",
              CLINIC_RECORDINGS_MAX_UPLOAD_BYTES: "lots"
            }))
          )))
        )
      )
      const report = String(error)
      for (
        const name of [
          "API_PORT",
          "API_SESSION_LIFETIME",
          "API_SCRYPT_LOG_N",
          "CLINIC_PG_MAX_CONNECTIONS",
          "CLINIC_RECORDINGS_MAX_UPLOAD_BYTES"
        ]
      ) assert.include(report, name)
    }))
})
