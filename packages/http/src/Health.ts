import { Health, type HealthApi, NotReady } from "@clinic/domain"
import { HttpApiBuilder } from "@effect/platform"
import type { HttpApi, HttpApiGroup } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import type { Layer } from "effect"
import { Effect } from "effect"

/**
 * The handlers of the contract's one `HealthApi` group, for whichever app serves it: `/health`
 * answers while the process does, `/ready` also asks the database (`SELECT 1`, 2 s at most) and
 * is a 503 `NotReady` when it does not answer. `service` names the app in both answers.
 */
export const layer = <Id extends string, Groups extends HttpApiGroup.HttpApiGroup.Any, E, R>(
  api: HttpApi.HttpApi<Id, Groups | typeof HealthApi, E, R>,
  service: string
): Layer.Layer<HttpApiGroup.ApiGroup<Id, "health">, never, SqlClient.SqlClient> =>
  HttpApiBuilder.group(
    api as unknown as HttpApi.HttpApi<Id, typeof HealthApi, E, R>,
    "health",
    (handlers) =>
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
      })
  )
