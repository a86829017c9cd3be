import { Storage } from "@clinic/repository"
import { Config, Duration, Effect } from "effect"

/** Every setting of the API app, read in one place; defaults fit the embedded local setup. */
export class ApiConfig extends Effect.Service<ApiConfig>()("@clinic/api/ApiConfig", {
  effect: Effect.gen(function*() {
    const host = yield* Config.string("API_HOST").pipe(Config.withDefault("127.0.0.1"))
    const port = yield* Config.port("API_PORT").pipe(Config.withDefault(3000))
    return {
      host,
      port,
      /** Where clients reach the API (behind a proxy, its public origin); feed URLs are built on it. */
      publicUrl: yield* Config.string("API_PUBLIC_URL").pipe(
        Config.withDefault(`http://${host}:${port}`),
        Config.map((url) => url.replace(/\/+$/, ""))
      ),
      auth: yield* authConfig,
      media: yield* mediaConfig,
      /** How long a new booking holds its slot unconfirmed (`BOOKING_HOLD=10 seconds` for demos). */
      bookingHold: yield* Config.duration("BOOKING_HOLD").pipe(Config.withDefault(Duration.minutes(15)))
    } as const
  })
}) {}

// Durations take Effect's syntax ("30 days", "24 hours", "5 seconds") so that a manual test can
// shrink any of them to seconds.
const authConfig = Config.all({
  sessionLifetime: Config.duration("API_SESSION_LIFETIME").pipe(Config.withDefault(Duration.days(30))),
  idleTimeout: Config.duration("API_SESSION_IDLE_TIMEOUT").pipe(Config.withDefault(Duration.hours(24))),
  touchInterval: Config.duration("API_SESSION_TOUCH_INTERVAL").pipe(Config.withDefault(Duration.minutes(5))),
  // log2 of scrypt's N; 15 is 32 MiB of memory and tens of milliseconds per hash.
  scryptLogN: Config.integer("API_SCRYPT_LOG_N").pipe(
    Config.withDefault(15),
    Config.validate({ message: "API_SCRYPT_LOG_N must be between 10 and 20", validation: (n) => n >= 10 && n <= 20 })
  )
}).pipe(
  // A session is touched at most once per interval, so its recorded activity lags by up to one
  // interval; an interval as long as the idle timeout would log out users who are active.
  Config.validate({
    message: "API_SESSION_TOUCH_INTERVAL must be shorter than API_SESSION_IDLE_TIMEOUT",
    validation: ({ idleTimeout, touchInterval }) => Duration.lessThan(touchInterval, idleTimeout)
  })
)

const mediaConfig = Config.all({
  dir: Storage.mediaDir,
  maxBytes: Config.integer("API_MEDIA_MAX_BYTES").pipe(
    Config.withDefault(50 * 1024 * 1024),
    Config.validate({ message: "API_MEDIA_MAX_BYTES must be positive", validation: (n) => n > 0 })
  )
})

export type AuthSettings = typeof authConfig extends Config.Config<infer A> ? A : never
