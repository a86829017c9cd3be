import { OutboxStore } from "@clinic/events"
import { TaskStore } from "@clinic/queue"
import { IdempotencyRepo, layerPg as RepositoriesPg } from "@clinic/repository"
import { FileStores } from "@clinic/storage"
import { Layer } from "effect"

/**
 * Every store the API's handlers and recordings worker use, on Postgres and the configured file
 * store: one set for `main.ts` and the benchmarks that run the app as it runs in production.
 */
export const StoresPg = Layer.mergeAll(
  RepositoriesPg,
  IdempotencyRepo.layerPg,
  OutboxStore.layerPg,
  TaskStore.layerPg,
  FileStores.FileStores.layer
)
