import { Storage } from "@clinic/repository"
import { Config, Duration, Effect, Option } from "effect"

// Durations take Effect's syntax ("30 days", "24 hours", "5 seconds") so that a manual test can
// shrink any of them to seconds.
const authConfig = Config.all({
  sessionLifetime: Config.duration("API_SESSION_LIFETIME").pipe(Config.withDefault(Duration.days(30))),
  idleTimeout: Config.duration("API_SESSION_IDLE_TIMEOUT").pipe(Config.withDefault(Duration.hours(24))),
  touchInterval: Config.duration("API_SESSION_TOUCH_INTERVAL").pipe(Config.withDefault(Duration.minutes(5))),
  // log2 of scrypt's N; 15 is 32 MiB of memory and tens of milliseconds per hash.
  scryptLogN: Config.integer("API_SCRYPT_LOG_N").pipe(
    Config.validate({ message: "API_SCRYPT_LOG_N must be between 10 and 20", validation: (n) => n >= 10 && n <= 20 }),
    Config.withDefault(15)
  )
}).pipe(
  // A session is touched at most once per interval, so its recorded activity lags by up to one
  // interval; an interval as long as the idle timeout would log out users who are active.
  Config.validate({
    message: "API_SESSION_TOUCH_INTERVAL must be shorter than API_SESSION_IDLE_TIMEOUT",
    validation: ({ idleTimeout, touchInterval }) => Duration.lessThan(touchInterval, idleTimeout)
  })
)

const authSessionMediaConfig = Config.all({
  dir: Storage.authSessionMediaDir,
  maxBytes: Config.integer("API_AUTH_SESSION_MEDIA_MAX_BYTES").pipe(
    Config.validate({ message: "API_AUTH_SESSION_MEDIA_MAX_BYTES must be positive", validation: (n) => n > 0 }),
    Config.withDefault(50 * 1024 * 1024)
  )
})

/** Every setting of the API app in one `Config.all`, so that every bad variable is reported at once. */
const settings = Config.all({
  host: Config.string("API_HOST").pipe(Config.withDefault("127.0.0.1")),
  port: Config.port("API_PORT").pipe(Config.withDefault(3000)),
  publicUrl: Config.option(Config.string("API_PUBLIC_URL")),
  auth: authConfig,
  authSessionMedia: authSessionMediaConfig,
  requestBody: Config.all({
    maxJsonBytes: Config.integer("API_MAX_JSON_BYTES").pipe(
      Config.validate({ message: "API_MAX_JSON_BYTES must be positive", validation: (n) => n > 0 }),
      Config.withDefault(1024 * 1024)
    ),
    /** How long a client may pause mid-body before it gets a 408 and its connection is closed. */
    idleTimeout: Config.duration("API_BODY_IDLE_TIMEOUT").pipe(Config.withDefault(Duration.seconds(30)))
  }),
  /** Origins whose browser pages may call the API (`https://app.example.com,...`); none by default. */
  corsOrigins: Config.array(Config.string(), "API_CORS_ORIGINS").pipe(
    Config.map((origins) => origins.map((origin) => origin.trim()).filter((origin) => origin !== "")),
    Config.withDefault([])
  ),
  /** How long a new booking holds its slot unconfirmed (`BOOKING_HOLD=10 seconds` for demos). */
  bookingHold: Config.duration("BOOKING_HOLD").pipe(Config.withDefault(Duration.minutes(15))),
  /** The key sealing list cursors; unset, the installation makes its own (`Cursor.ts`). */
  cursorSecret: Config.option(Config.redacted("API_CURSOR_SECRET")),
  /** The bearer token of `GET /metrics`; unset, the API serves no metrics (`MetricsRoute.ts`). */
  metricsToken: Config.option(Config.redacted("API_METRICS_TOKEN"))
}).pipe(
  Config.map(({ publicUrl, ...rest }) => ({
    ...rest,
    /** Where clients reach the API (behind a proxy, its public origin); feed URLs are built on it. */
    publicUrl: Option.getOrElse(publicUrl, () => `http://${rest.host}:${rest.port}`).replace(/\/+$/, "")
  }))
)

/** Every setting of the API app, read in one place; defaults fit the embedded local setup. */
export class ApiConfig extends Effect.Service<ApiConfig>()("@clinic/api/ApiConfig", { effect: settings }) {
  /** For `Settings.layer`, which loads it together with the other config services of the app. */
  static readonly load = Effect.map(settings, (values) => ApiConfig.make(values))
}

export type AuthSettings = typeof authConfig extends Config.Config<infer A> ? A : never
