import { Config, Duration, Effect } from "effect"

/** Every setting of the API app, read in one place; defaults fit the embedded local setup. */
export class ApiConfig extends Effect.Service<ApiConfig>()("@clinic/api/ApiConfig", {
  effect: Effect.gen(function*() {
    return {
      host: yield* Config.string("API_HOST").pipe(Config.withDefault("127.0.0.1")),
      port: yield* Config.port("API_PORT").pipe(Config.withDefault(3000)),
      /** How long a new booking holds its slot unconfirmed (`BOOKING_HOLD=10 seconds` for demos). */
      bookingHold: yield* Config.duration("BOOKING_HOLD").pipe(Config.withDefault(Duration.minutes(15)))
    } as const
  })
}) {}
