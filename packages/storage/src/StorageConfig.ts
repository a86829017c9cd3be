import type { ConfigError } from "effect"
import type { Redacted } from "effect"
import { Config, Context, Effect, Layer, Option } from "effect"

/** An S3-compatible object store: AWS S3, MinIO, Cloudflare R2, Ceph RGW, ... */
export interface S3Settings {
  readonly bucket: string
  /** `None`: AWS S3 of `region`; otherwise the server's URL (`http://127.0.0.1:9000`). */
  readonly endpoint: Option.Option<string>
  readonly region: string
  /** `None`: the SDK's default chain (`AWS_*` variables, profile, instance or pod role). */
  readonly credentials: Option.Option<{ readonly accessKeyId: string; readonly secretAccessKey: Redacted.Redacted }>
  /** `bucket` in the path rather than the host name: what MinIO, Ceph and most local servers need. */
  readonly forcePathStyle: boolean
  /** Put before each store's own prefix (`recordings/`, `auth-session-media/`), to share a bucket. */
  readonly keyPrefix: string
}

/** Where every file store of the app keeps its files: local folders (each store's own setting), or one bucket. */
export type StorageSettings =
  | { readonly _tag: "Local" }
  | { readonly _tag: "S3"; readonly s3: S3Settings }

const s3Config: Config.Config<S3Settings> = Config.all({
  bucket: Config.nonEmptyString("CLINIC_S3_BUCKET"),
  endpoint: Config.option(Config.nonEmptyString("CLINIC_S3_ENDPOINT")),
  region: Config.nonEmptyString("CLINIC_S3_REGION").pipe(Config.withDefault("us-east-1")),
  accessKeyId: Config.option(Config.nonEmptyString("CLINIC_S3_ACCESS_KEY_ID")),
  secretAccessKey: Config.option(Config.redacted("CLINIC_S3_SECRET_ACCESS_KEY")),
  forcePathStyle: Config.boolean("CLINIC_S3_FORCE_PATH_STYLE").pipe(Config.withDefault(false)),
  keyPrefix: Config.string("CLINIC_S3_KEY_PREFIX").pipe(
    Config.withDefault(""),
    Config.validate({
      message: "CLINIC_S3_KEY_PREFIX is empty or ends with a slash, like `staging/`",
      validation: (prefix) => prefix === "" || /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*\/$/.test(prefix)
    })
  )
}).pipe(
  Config.validate({
    message: "CLINIC_S3_ACCESS_KEY_ID and CLINIC_S3_SECRET_ACCESS_KEY are set together or not at all",
    validation: ({ accessKeyId, secretAccessKey }) => Option.isSome(accessKeyId) === Option.isSome(secretAccessKey)
  }),
  Config.map(({ accessKeyId, secretAccessKey, ...rest }) => ({
    ...rest,
    credentials: Option.zipWith(accessKeyId, secretAccessKey, (id, secret) => ({
      accessKeyId: id,
      secretAccessKey: secret
    }))
  }))
)

/**
 * `CLINIC_STORAGE=local` (default): each store is its folder; `s3`: every store is a prefix of
 * the bucket `CLINIC_S3_BUCKET`, read with the other `CLINIC_S3_*` settings.
 */
export const storageConfig: Effect.Effect<StorageSettings, ConfigError.ConfigError> = Effect.gen(function*() {
  const backend = yield* Config.literal("local", "s3")("CLINIC_STORAGE").pipe(Config.withDefault("local" as const))
  return backend === "local" ? { _tag: "Local" } as const : { _tag: "S3", s3: yield* s3Config } as const
})

export class StorageConfig extends Context.Tag("@clinic/storage/StorageConfig")<StorageConfig, StorageSettings>() {
  /** For `Settings.layer`, which loads it together with the other config services of the app. */
  static readonly load = storageConfig
  static readonly layer = Layer.effect(StorageConfig, storageConfig)
  /** Tests: local folders, or `s3` settings of a test server. */
  static readonly layerTest = (settings: StorageSettings = { _tag: "Local" }) => Layer.succeed(StorageConfig, settings)
}
