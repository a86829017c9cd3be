import { ClinicApi, Health, NotReady } from "@clinic/domain"
import { HttpApiBuilder } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export const healthGroup = (service: string) =>
  HttpApiBuilder.group(ClinicApi, "health", (handlers) =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const ok = new Health({ status: "ok", service })
      return handlers
        .handle("health", () => Effect.succeed(ok))
        .handle("ready", () =>
          sql`SELECT 1`.pipe(
            Effect.timeout("2 seconds"),
            Effect.as(ok),
            Effect.catchAll(() => Effect.fail(new NotReady({ message: "The database does not answer" })))
          ))
    }))

export const HealthLive = healthGroup("api")
