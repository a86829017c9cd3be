import { OutboxStore } from "@clinic/events"
import { TaskStore } from "@clinic/queue"
/**
 * The API's handlers alone for the benchmark: the real handlers, session sign-in and Postgres
 * repositories, on `DATABASE_URL`, listening on `API_PORT`, without the middleware `main.ts` adds
 * (error shape, request ids, access log: `app-server.ts` has them), to tell their cost apart.
 */
import { Settings } from "@clinic/foundation"
import { Database, IdempotencyRepo } from "@clinic/repository"
import * as Repositories from "@clinic/repository/Repositories"
import { FileStores, StorageConfig } from "@clinic/storage"
import { HttpApiBuilder } from "@effect/platform"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Layer } from "effect"
import { createServer } from "node:http"
import { ApiConfig } from "../src/ApiConfig.js"
import { AuthenticationLive } from "../src/AuthenticationLive.js"
import { ApiLive } from "../src/Http.js"
import { Recordings } from "../src/Recordings.js"

HttpApiBuilder.serve().pipe(
  Layer.provide(ApiLive),
  Layer.provide(AuthenticationLive),
  Layer.provide(Recordings),
  Layer.provide(NodeHttpServer.layer(createServer, { host: "127.0.0.1", port: Number(process.env.API_PORT) })),
  Layer.provide(
    Layer.mergeAll(
      Repositories.layerPg,
      IdempotencyRepo.layerPg,
      OutboxStore.layerPg,
      TaskStore.layerPg,
      FileStores.FileStores.layer
    )
  ),
  Layer.provide(Database.layer),
  Layer.provide(Settings.layer(ApiConfig, Database.DatabaseConfig, StorageConfig.StorageConfig)),
  Layer.launch,
  NodeRuntime.runMain
)
