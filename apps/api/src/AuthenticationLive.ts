import { Authentication } from "@clinic/domain"
import { Effect, Layer } from "effect"
import { Auth } from "./auth/Auth.js"
import { MediaUploads } from "./auth/MediaUploads.js"

/** The bearer-token check every authenticated endpoint runs before its handler. */
export const AuthenticationLive = Layer.effect(
  Authentication,
  Effect.map(Auth, (auth) => Authentication.of({ bearer: (token) => auth.authenticate(token) }))
).pipe(Layer.provide(Auth.DefaultWithoutDependencies), Layer.provide(MediaUploads.Default))
