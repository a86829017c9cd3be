import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Option, Redacted } from "effect"
import { storageConfig } from "../src/StorageConfig.js"

const load = (env: Record<string, string>) =>
  storageConfig.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))

describe("StorageConfig", () => {
  it.effect("local by default; s3 needs only a bucket, the rest has defaults", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* load({}), { _tag: "Local" })
      const s3 = yield* load({ CLINIC_STORAGE: "s3", CLINIC_S3_BUCKET: "clinic" })
      assert.deepStrictEqual(s3, {
        _tag: "S3",
        s3: {
          bucket: "clinic",
          endpoint: Option.none(),
          region: "us-east-1",
          credentials: Option.none(),
          forcePathStyle: false,
          keyPrefix: ""
        }
      })
      const full = yield* load({
        CLINIC_STORAGE: "s3",
        CLINIC_S3_BUCKET: "clinic",
        CLINIC_S3_ENDPOINT: "http://127.0.0.1:9000",
        CLINIC_S3_ACCESS_KEY_ID: "minio",
        CLINIC_S3_SECRET_ACCESS_KEY: "minio-secret",
        CLINIC_S3_FORCE_PATH_STYLE: "true",
        CLINIC_S3_KEY_PREFIX: "staging/"
      })
      assert(full._tag === "S3")
      assert.deepStrictEqual(full.s3.endpoint, Option.some("http://127.0.0.1:9000"))
      assert.isTrue(full.s3.forcePathStyle)
      assert.strictEqual(full.s3.keyPrefix, "staging/")
      const credentials = Option.getOrThrow(full.s3.credentials)
      assert.strictEqual(credentials.accessKeyId, "minio")
      assert.strictEqual(Redacted.value(credentials.secretAccessKey), "minio-secret")
      assert.notInclude(String(credentials.secretAccessKey), "minio-secret")
    }))

  it.effect("a missing bucket, half the credentials, a bad prefix or an unknown backend are named", () =>
    Effect.gen(function*() {
      const problems = {
        CLINIC_S3_BUCKET: { CLINIC_STORAGE: "s3" },
        CLINIC_S3_SECRET_ACCESS_KEY: { CLINIC_STORAGE: "s3", CLINIC_S3_BUCKET: "b", CLINIC_S3_ACCESS_KEY_ID: "id" },
        CLINIC_S3_KEY_PREFIX: { CLINIC_STORAGE: "s3", CLINIC_S3_BUCKET: "b", CLINIC_S3_KEY_PREFIX: "../x" },
        CLINIC_STORAGE: { CLINIC_STORAGE: "disk" }
      }
      for (const [variable, env] of Object.entries(problems)) {
        const error = yield* Effect.flip(load(env))
        assert.include(String(error), variable, JSON.stringify(env))
      }
    }))
})
