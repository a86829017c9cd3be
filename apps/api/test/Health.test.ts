import { ClinicApi } from "@clinic/domain"
import { HttpApiClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { memoryServer, postgresServer } from "./support/TestApi.js"

describe("health endpoints", () => {
  it.live("health and ready answer ok with a database", () =>
    Effect.gen(function*() {
      const client = yield* HttpApiClient.make(ClinicApi)
      assert.deepStrictEqual({ ...(yield* client.health.health()) }, { status: "ok", service: "api" })
      assert.deepStrictEqual({ ...(yield* client.health.ready()) }, { status: "ok", service: "api" })
    }).pipe(Effect.provide(postgresServer())))

  it.live("ready is 503 NotReady when the database does not answer; unknown routes are 404", () =>
    Effect.gen(function*() {
      const client = yield* HttpApiClient.make(ClinicApi)
      const error = yield* Effect.flip(client.health.ready())
      assert.strictEqual(error._tag, "NotReady")
      const response = yield* HttpClient.execute(HttpClientRequest.get("/ready"))
      assert.strictEqual(response.status, 503)
      const missing = yield* HttpClient.execute(HttpClientRequest.get("/no-such-route"))
      assert.strictEqual(missing.status, 404)
      // The memory setup's SqlClient fails every query, as a database that is down does.
    }).pipe(Effect.provide(memoryServer())))
})
