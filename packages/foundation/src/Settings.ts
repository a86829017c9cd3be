import { ConfigError, Context, Effect, Layer } from "effect"

/**
 * A config service: a tag whose value is read from the environment by `load` alone. Each app and
 * package has one (`ApiConfig`, `SchedulerConfig`, `DatabaseConfig`, `CleanupConfig`, ...); its
 * `load` is one `Config.all`, which reports every bad or missing variable of the service at once.
 */
export interface Loadable {
  readonly key: string
  readonly Identifier: unknown
  readonly load: Effect.Effect<unknown, ConfigError.ConfigError>
}

type Provided<L> = L extends { readonly Identifier: infer I } ? I : never

/**
 * The given config services, loaded together: every problem of every service is reported in one
 * `ConfigError` (each naming its variable), and nothing is built before all of them load. Apps
 * provide this at the root, below the database, so that a typo fails the start before the
 * database, the servers or the workers do anything.
 */
export const layer = <const Services extends ReadonlyArray<Loadable>>(
  ...services: Services
): Layer.Layer<Provided<Services[number]>, ConfigError.ConfigError> =>
  Layer.effectContext(
    Effect.all(services.map((service) => service.load), { mode: "validate" }).pipe(
      Effect.mapError((results) =>
        results.flatMap((result) => result._tag === "Some" ? [result.value] : []).reduce((all, error) =>
          ConfigError.And(all, error)
        )
      ),
      Effect.map((values) =>
        services.reduce(
          (context, service, i) => Context.add(context, service as unknown as Context.Tag<unknown, unknown>, values[i]),
          Context.empty() as Context.Context<unknown>
        )
      )
    )
  )
