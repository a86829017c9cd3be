import { Authentication, Unauthorized } from "@clinic/domain"
import { Database, IdempotencyRepo, layerPg as RepositoriesPg } from "@clinic/repository"
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { HttpLive } from "./Http.js"
import { LoggingLive } from "./Logging.js"

// Placeholder until the auth branch's session-backed `Authentication` layer is merged: every
// protected endpoint fails closed with 401.
const AuthenticationPending = Layer.succeed(
  Authentication,
  Authentication.of({ bearer: () => Effect.fail(new Unauthorized({ message: "Sign-in is not available yet" })) })
)

HttpLive.pipe(
  Layer.provide(AuthenticationPending),
  Layer.provide(Layer.mergeAll(RepositoriesPg, IdempotencyRepo.layerPg)),
  Layer.provide(Database.layer),
  Layer.provide(LoggingLive),
  Layer.launch,
  // The logger comes from LoggingLive; runMain's own pretty logger would print every line twice.
  (program) => NodeRuntime.runMain(program, { disablePrettyLogger: true })
)
