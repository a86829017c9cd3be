import { Storage } from "@clinic/repository"
import { Config, Context, Duration, Effect, Layer, Option } from "effect"

/** OWASP's minimum for scrypt (N = 2^17, r = 8, p = 1). */
export const MIN_SCRYPT_LOG_N = 17
/** What `withTestPasswordCost` sets: about a millisecond per hash. */
const TEST_SCRYPT_LOG_N = 10

// Durations take Effect's syntax ("30 days", "24 hours", "5 seconds") so that a manual test can
// shrink any of them to seconds.
const authConfig = Config.all({
  sessionLifetime: Config.duration("API_SESSION_LIFETIME").pipe(Config.withDefault(Duration.days(30))),
  idleTimeout: Config.duration("API_SESSION_IDLE_TIMEOUT").pipe(Config.withDefault(Duration.hours(24))),
  touchInterval: Config.duration("API_SESSION_TOUCH_INTERVAL").pipe(Config.withDefault(Duration.minutes(5))),
  // log2 of scrypt's N. 17 (128 MiB, r = 8) is OWASP's minimum, so the setting can only raise it;
  // tests lower it through `ApiConfig.withTestPasswordCost`, never through the environment.
  scryptLogN: Config.integer("API_SCRYPT_LOG_N").pipe(
    Config.validate({
      message: `API_SCRYPT_LOG_N must be between ${MIN_SCRYPT_LOG_N} and 20`,
      validation: (n) => n >= MIN_SCRYPT_LOG_N && n <= 20
    }),
    Config.withDefault(MIN_SCRYPT_LOG_N)
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

const positiveInteger = (name: string, fallback: number) =>
  Config.integer(name).pipe(
    Config.validate({ message: `${name} must be at least 1`, validation: (n) => n >= 1 }),
    Config.withDefault(fallback)
  )

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
  /**
   * Login throttling: failed attempts counted in a rolling window per (account, client address),
   * per client address and per account; a success resets its (account, address) count. The
   * account-wide limit skips addresses the account logged in from before, so that an attacker
   * cannot lock a therapist out from their usual places.
   */
  loginThrottle: Config.all({
    window: Config.duration("API_LOGIN_WINDOW").pipe(
      Config.validate({
        message: "API_LOGIN_WINDOW must be between 1 second and 1 hour",
        validation: (d) => Duration.between(d, { minimum: Duration.seconds(1), maximum: Duration.hours(1) })
      }),
      Config.withDefault(Duration.minutes(15))
    ),
    perAccountAddress: positiveInteger("API_LOGIN_LIMIT_PER_ACCOUNT_ADDRESS", 5),
    perAddress: positiveInteger("API_LOGIN_LIMIT_PER_ADDRESS", 50),
    perAccount: positiveInteger("API_LOGIN_LIMIT_PER_ACCOUNT", 20)
  }),
  /**
   * How many reverse proxies in front of the API append to `X-Forwarded-For`: the client address
   * is that many hops back from the connected one. 0 (default): the connected address, the header
   * ignored (anyone can send it).
   */
  trustedProxies: Config.integer("API_TRUSTED_PROXIES").pipe(
    Config.validate({ message: "API_TRUSTED_PROXIES must be 0 or more", validation: (n) => n >= 0 }),
    Config.withDefault(0)
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

  /**
   * Tests only: `layer` with scrypt's cost lowered for new hashes (each stored hash carries its
   * parameters, so verification is unchanged). Production has no way below `MIN_SCRYPT_LOG_N`.
   */
  static readonly withTestPasswordCost = <E, R>(layer: Layer.Layer<ApiConfig, E, R>) =>
    Layer.map(layer, (context) => {
      const config = Context.get(context, ApiConfig)
      return Context.make(
        ApiConfig,
        ApiConfig.make({ ...config, auth: { ...config.auth, scryptLogN: TEST_SCRYPT_LOG_N } })
      )
    })
}

export type AuthSettings = typeof authConfig extends Config.Config<infer A> ? A : never
