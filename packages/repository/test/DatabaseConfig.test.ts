import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Exit, Option } from "effect"
import { DatabaseConfig } from "../src/Database.js"

const load = (env: Record<string, string>) =>
  Effect.exit(DatabaseConfig.load.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))))

describe("DatabaseConfig", () => {
  it.effect("with NODE_ENV=production and no DATABASE_URL the app refuses to start, saying why", () =>
    Effect.gen(function*() {
      const refused = yield* load({ NODE_ENV: "production" })
      assert.isTrue(Exit.isFailure(refused))
      assert.include(
        String(Exit.isFailure(refused) ? refused.cause : ""),
        "DATABASE_URL must be set when NODE_ENV=production"
      )
      const cases: Array<Record<string, string>> = [
        { NODE_ENV: "production", DATABASE_URL: "postgres://db.internal/clinic" },
        {},
        { NODE_ENV: "development" },
        { NODE_ENV: "test" }
      ]
      for (const env of cases) {
        const loaded = yield* load(env)
        assert.isTrue(Exit.isSuccess(loaded), JSON.stringify(env))
        if (Exit.isSuccess(loaded)) assert.strictEqual(Option.isSome(loaded.value.url), "DATABASE_URL" in env)
      }
    }))
})
