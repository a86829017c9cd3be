import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Exit, Layer, Option } from "effect"
import { ConfigLive } from "../src/App.js"
import { SchedulerConfig } from "../src/SchedulerConfig.js"

const withEnv = (env: Record<string, string>) =>
  Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

describe("SchedulerConfig", () => {
  it.effect("defaults fit the local setup", () =>
    Effect.gen(function*() {
      const config = yield* SchedulerConfig
      assert.strictEqual(config.port, 3001)
      assert.isTrue(Option.isNone(config.adminToken))
      assert.isTrue(Duration.equals(config.lease, Duration.seconds(6)))
      assert.strictEqual(config.emailConcurrency, 4)
    }).pipe(Effect.provide(ConfigLive.pipe(Layer.provide(withEnv({}))))))

  it.effect("every bad setting of the app and its packages is reported at once, each by its variable", () =>
    Effect.gen(function*() {
      let started = false
      // Stands for the database and the servers: built only once every setting has loaded.
      const afterConfig = Layer.effectDiscard(Effect.sync(() => {
        started = true
      })).pipe(Layer.provide(ConfigLive))
      const exit = yield* Effect.exit(
        Layer.build(afterConfig).pipe(
          Effect.scoped,
          Effect.provide(withEnv({
            SCHEDULER_PORT: "http",
            SCHEDULER_LEASE: "soon",
            SCHEDULER_EMAIL_CONCURRENCY: "-1",
            SCHEDULER_AUTH_SESSION_CLEANUP: "every now and then",
            CLINIC_PG_MAX_CONNECTIONS: "-2",
            CLEANUP_TIME_BUDGET: "a while",
            SMTP_PORT: "99999",
            CALENDAR_SYNC_CONCURRENCY: "0"
          }))
        )
      )
      assert.isTrue(Exit.isFailure(exit))
      assert.isFalse(started)
      const report = String(Exit.isFailure(exit) ? exit.cause : "")
      for (
        const name of [
          "SCHEDULER_PORT",
          "SCHEDULER_LEASE",
          "SCHEDULER_EMAIL_CONCURRENCY",
          "SCHEDULER_AUTH_SESSION_CLEANUP",
          "CLINIC_PG_MAX_CONNECTIONS",
          "CLEANUP_TIME_BUDGET",
          "SMTP_PORT",
          "CALENDAR_SYNC_CONCURRENCY"
        ]
      ) assert.include(report, name)
    }))
})
