import { OutboxStore } from "@clinic/events"
import { TaskStore } from "@clinic/queue"
/**
 * Manual runs only (`tsx test/support/DevServer.ts`): the real API on Postgres, signed in through
 * the test middleware (bearer token = a user id), until the session-backed middleware is merged.
 * `DEV_THERAPIST_EMAIL` creates that therapist if missing and logs the id to use as token.
 */
import { Email } from "@clinic/domain"
import { Database, IdempotencyRepo, layerPg as RepositoriesPg, UserRepo } from "@clinic/repository"
import { NodeRuntime } from "@effect/platform-node"
import { Config, Effect, Layer, Option } from "effect"
import { HttpLive } from "../../src/Http.js"
import { LoggingLive } from "../../src/Logging.js"
import { RecordingsPg } from "../../src/Recordings.js"
import { TestAuthentication } from "./TestAuthentication.js"

const Seed = Layer.effectDiscard(Effect.gen(function*() {
  const email = yield* Config.option(Config.string("DEV_THERAPIST_EMAIL"))
  if (Option.isNone(email)) return
  const users = yield* UserRepo
  const existing = yield* users.findCredentials(Email.make(email.value))
  const user = Option.isSome(existing)
    ? existing.value.user
    : yield* Effect.orDie(users.insert({
      email: Email.make(email.value),
      name: "Dev Therapist",
      role: "therapist",
      passwordHash: "dev-only"
    }))
  yield* Effect.logInfo("dev therapist").pipe(Effect.annotateLogs({ token: user.id }))
}))

const Repositories = Layer.mergeAll(RepositoriesPg, IdempotencyRepo.layerPg, OutboxStore.layerPg, TaskStore.layerPg)

Layer.mergeAll(HttpLive.pipe(Layer.provide(TestAuthentication)), Seed).pipe(
  Layer.provide(RecordingsPg),
  Layer.provide(Repositories),
  Layer.provide(Database.layer),
  Layer.provide(LoggingLive),
  Layer.launch,
  (program) => NodeRuntime.runMain(program, { disablePrettyLogger: true })
)
