/**
 * A real S3 protocol server for tests: `s3rver` (a local S3-compatible server) on a free port of
 * 127.0.0.1, keeping its objects in a temporary folder; stopped and removed with the scope.
 */
import { ListObjectsV2Command } from "@aws-sdk/client-s3"
import { Effect, Option, Redacted, type Scope } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import S3rver from "s3rver"
import { makeClient } from "../S3FileStore.js"
import type { S3Settings, StorageSettings } from "../StorageConfig.js"

export interface S3TestServer {
  readonly endpoint: string
  readonly bucket: string
  /** `CLINIC_STORAGE=s3` settings for this server's bucket. */
  readonly settings: StorageSettings
  readonly s3: S3Settings
  /** Every key of the bucket, sorted (at most 1,000). */
  readonly keys: Effect.Effect<ReadonlyArray<string>>
  /** The same as environment variables (for apps configured through `Settings`). */
  readonly env: Record<string, string>
}

export const start = (bucket = "clinic"): Effect.Effect<S3TestServer, never, Scope.Scope> =>
  Effect.gen(function*() {
    const directory = yield* Effect.acquireRelease(
      Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "clinic-s3rver-"))),
      (dir) => Effect.promise(() => Fs.rm(dir, { recursive: true, force: true }))
    )
    const server = new S3rver({
      port: 0,
      address: "127.0.0.1",
      directory,
      silent: true,
      configureBuckets: [{ name: bucket }]
    })
    const { port } = yield* Effect.acquireRelease(
      Effect.promise(() => server.run()),
      () => Effect.promise(() => server.close())
    )
    const endpoint = `http://127.0.0.1:${port}`
    const s3: S3Settings = {
      bucket,
      endpoint: Option.some(endpoint),
      region: "us-east-1",
      credentials: Option.some({ accessKeyId: "S3RVER", secretAccessKey: Redacted.make("S3RVER") }),
      forcePathStyle: true,
      keyPrefix: ""
    }
    const settings: StorageSettings = { _tag: "S3", s3 }
    const client = yield* makeClient(s3)
    return {
      endpoint,
      bucket,
      settings,
      s3,
      keys: Effect.promise(() => client.send(new ListObjectsV2Command({ Bucket: bucket }))).pipe(
        Effect.map((listed) => (listed.Contents ?? []).map((object) => object.Key ?? "").sort())
      ),
      env: {
        CLINIC_STORAGE: "s3",
        CLINIC_S3_BUCKET: bucket,
        CLINIC_S3_ENDPOINT: endpoint,
        CLINIC_S3_ACCESS_KEY_ID: "S3RVER",
        CLINIC_S3_SECRET_ACCESS_KEY: "S3RVER",
        CLINIC_S3_FORCE_PATH_STYLE: "true"
      }
    }
  })
