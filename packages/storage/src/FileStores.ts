import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { Context, Effect, Layer } from "effect"
import type { FileStoreShape } from "./FileStore.js"
import * as LocalFileStore from "./LocalFileStore.js"
import * as S3FileStore from "./S3FileStore.js"
import type { S3Settings } from "./StorageConfig.js"
import { StorageConfig } from "./StorageConfig.js"

/** A file store of the app: its name, which is its key prefix in a bucket, and its local folder. */
export interface StoreLocation {
  /** `recordings`, `auth-session-media`: lower-case words and dashes. */
  readonly name: string
  /** Where it lives when storage is local (the feature's own setting). */
  readonly dir: string
}

export interface FileStoresShape {
  /**
   * The store `location.name` on the configured backend: the folder `location.dir`, or the keys
   * under `<CLINIC_S3_KEY_PREFIX><name>/` of the bucket. Every app opening the same name on the
   * same backend sees the same files.
   */
  readonly open: (location: StoreLocation) => Effect.Effect<FileStoreShape>
}

const storeName = /^[a-z0-9]+(-[a-z0-9]+)*$/

const checkName = (name: string) =>
  storeName.test(name) ? Effect.void : Effect.dieMessage(`Not a store name: ${JSON.stringify(name)}`)

/**
 * Where the app's uploaded files go: the one choice between local folders and an S3-compatible
 * bucket (`StorageConfig`), made once at each app's root; features open their store by name.
 */
export class FileStores extends Context.Tag("@clinic/storage/FileStores")<FileStores, FileStoresShape>() {
  /** Each store in its local folder. */
  static readonly layerLocal: Layer.Layer<FileStores, never, FileSystem.FileSystem> = Layer.effect(
    FileStores,
    Effect.map(FileSystem.FileSystem, (fs) =>
      FileStores.of({
        open: ({ dir, name }) =>
          Effect.zipRight(
            checkName(name),
            LocalFileStore.make(dir).pipe(Effect.provideService(FileSystem.FileSystem, fs))
          ).pipe(Effect.withSpan("FileStores.open"))
      }))
  )

  /** Every store a prefix of one bucket, through one client closed with the layer. */
  static readonly layerS3 = (settings: S3Settings): Layer.Layer<FileStores> =>
    Layer.scoped(
      FileStores,
      Effect.map(S3FileStore.makeClient(settings), (client) =>
        FileStores.of({
          open: ({ name }) =>
            Effect.as(
              checkName(name),
              S3FileStore.make(client, { bucket: settings.bucket, prefix: `${settings.keyPrefix}${name}/` })
            ).pipe(Effect.withSpan("FileStores.open"))
        }))
    )

  /** The backend `StorageConfig` names (local folders on Node's file system). */
  static readonly layer: Layer.Layer<FileStores, never, StorageConfig> = Layer.unwrapEffect(
    Effect.map(StorageConfig, (settings) =>
      settings._tag === "Local"
        ? FileStores.layerLocal.pipe(Layer.provide(NodeFileSystem.layer))
        : FileStores.layerS3(settings.s3))
  )
}
