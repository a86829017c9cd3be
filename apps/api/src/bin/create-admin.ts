/**
 * Creates an admin account, the only way one comes to exist (registration makes therapists):
 *
 *   ADMIN_EMAIL=root@clinic.test ADMIN_NAME="Clinic Admin" ADMIN_PASSWORD=... pnpm create-admin
 *
 * The password is read from the environment only, so that it stays out of shell history and `ps`.
 * Runs the migrations first, on `DATABASE_URL` or the embedded server, like the app.
 */
import { EmailInput, Password, User } from "@clinic/domain"
import { Logging, Settings } from "@clinic/foundation"
import { Database } from "@clinic/repository"
import * as Repositories from "@clinic/repository/Repositories"
import { FileStores, StorageConfig } from "@clinic/storage"
import { NodeRuntime } from "@effect/platform-node"
import { Config, Effect, Layer, Redacted, Schema } from "effect"
import { ApiConfig } from "../ApiConfig.js"
import { Auth } from "../auth/Auth.js"

const AdminInput = Schema.Struct({ email: EmailInput, name: User.fields.name, password: Password })

const program = Effect.gen(function*() {
  const raw = yield* Config.all({
    email: Config.string("ADMIN_EMAIL"),
    name: Config.string("ADMIN_NAME").pipe(Config.withDefault("Administrator")),
    password: Config.redacted("ADMIN_PASSWORD")
  })
  // Checked before the database starts, so that a typo costs nothing.
  const input = yield* Schema.decodeUnknown(AdminInput)({ ...raw, password: Redacted.value(raw.password) })
  const admin = yield* Effect.flatMap(Auth, (auth) => auth.createAccount(input, "admin")).pipe(
    Effect.provide(
      Auth.Default.pipe(
        Layer.provide(Layer.merge(Repositories.layerPg, FileStores.FileStores.layer)),
        Layer.provide(Database.layer),
        // Every setting loads before the database starts.
        Layer.provide(Settings.layer(ApiConfig, Database.DatabaseConfig, StorageConfig.StorageConfig))
      )
    )
  )
  yield* Effect.logInfo("admin created").pipe(Effect.annotateLogs({ id: admin.id, email: admin.email }))
})

program.pipe(
  // Expected failures (bad input, taken email, missing setting) are one line, not a stack trace.
  Effect.tapError((error) =>
    Effect.logError(error._tag === "ParseError" ? `Invalid input:\n${error.message}` : String(error))
  ),
  Effect.tapDefect((defect) => Effect.logError("create-admin failed", defect)),
  Effect.provide(Logging.layer),
  (program) => NodeRuntime.runMain(program, { disableErrorReporting: true, disablePrettyLogger: true })
)
