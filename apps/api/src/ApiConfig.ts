import { Config, Effect } from "effect"

/** Every setting of the API app, read in one place; defaults fit the embedded local setup. */
export class ApiConfig extends Effect.Service<ApiConfig>()("@clinic/api/ApiConfig", {
  effect: Effect.gen(function*() {
    return {
      host: yield* Config.string("API_HOST").pipe(Config.withDefault("127.0.0.1")),
      port: yield* Config.port("API_PORT").pipe(Config.withDefault(3000))
    } as const
  })
}) {}
