import { Authentication } from "@clinic/domain"
import { Effect, Layer } from "effect"
import { Auth } from "./auth/Auth.js"
import { AuthSessionMediaUploads } from "./auth/AuthSessionMediaUploads.js"
import { LoginThrottle } from "./auth/LoginThrottle.js"

/** The bearer-token check every authenticated endpoint runs before its handler. */
export const AuthenticationLive = Layer.effect(
  Authentication,
  Effect.map(Auth, (auth) => Authentication.of({ bearer: (token) => auth.authenticate(token) }))
).pipe(
  Layer.provide(Auth.DefaultWithoutDependencies),
  Layer.provide([AuthSessionMediaUploads.Default, LoginThrottle.Default])
)
