import { OutboxStore } from "@clinic/events"
import { TaskStore } from "@clinic/queue"
/**
 * The API app for the benchmark: the real handlers, middleware and Postgres repositories, on
 * `DATABASE_URL`, listening on `API_PORT`. `BENCH_REQUEST_LOG=1` adds the per-request logger that
 * `main.ts` ships with; without it the comparison with the bare server is like for like.
 */
import { Settings } from "@clinic/foundation"
import { Database, IdempotencyRepo } from "@clinic/repository"
import * as Repositories from "@clinic/repository/Repositories"
import { FileStores, StorageConfig } from "@clinic/storage"
import { HttpApiBuilder, HttpMiddleware } from "@effect/platform"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Layer } from "effect"
import { createServer } from "node:http"
import { ApiConfig } from "../src/ApiConfig.js"
import { AuthenticationLive } from "../src/AuthenticationLive.js"
import { ApiLive } from "../src/Http.js"
import { Recordings } from "../src/Recordings.js"

const serve = process.env.BENCH_REQUEST_LOG === "1"
  ? HttpApiBuilder.serve(HttpMiddleware.logger)
  : HttpApiBuilder.serve()

serve.pipe(
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
