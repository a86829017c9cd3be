import { ClinicApi, CurrentUser, LoginResponse } from "@clinic/domain"
import { RateLimiter } from "@clinic/recordings"
import { HttpApiBuilder, HttpApp, HttpServerResponse } from "@effect/platform"
import { Effect, Layer, Option } from "effect"
import { ApiConfig } from "./ApiConfig.js"
import { Auth, toPublic } from "./auth/Auth.js"
import { AuthSessionMediaUploads } from "./auth/AuthSessionMediaUploads.js"
import { LoginThrottle } from "./auth/LoginThrottle.js"
import { clientAddress } from "./ClientAddress.js"

const authGroup = HttpApiBuilder.group(ClinicApi, "auth", (handlers) =>
  Effect.gen(function*() {
    const auth = yield* Auth
    const config = yield* ApiConfig
    const media = yield* AuthSessionMediaUploads
    return handlers
      .handle("register", ({ payload }) => auth.register(payload))
      .handle("login", ({ payload, request }) =>
        Effect.gen(function*() {
          const { session, token } = yield* auth.login(payload.email, payload.password, {
            userAgent: request.headers["user-agent"] ?? null,
            ip: clientAddress(
              Option.getOrUndefined(request.remoteAddress),
              request.headers["x-forwarded-for"],
              config.trustedProxies
            )
          }).pipe(
            // `Retry-After` and the `RateLimit` fields, as on the recordings' limits.
            Effect.tapErrorTag("RateLimited", (error) =>
              HttpApp.appendPreResponseHandler((_request, response) =>
                Effect.succeed(HttpServerResponse.setHeaders(response, RateLimiter.rateLimitHeaders(error)))
              ))
          )
          return new LoginResponse({
            token,
            tokenType: "Bearer",
            expiresAt: session.expiresAt,
            idleTimeoutSeconds: auth.idleTimeoutSeconds,
            session: toPublic(session, session.id)
          })
        }))
      .handle("logout", () => Effect.flatMap(CurrentUser, ({ session }) => auth.logout(session)))
      .handle("me", () => Effect.map(CurrentUser, ({ user }) => user))
      .handle("sessions", () => Effect.flatMap(CurrentUser, ({ session }) => auth.listSessions(session)))
      .handle("revokeSession", ({ path }) => Effect.flatMap(CurrentUser, ({ user }) => auth.revoke(user.id, path.id)))
      .handle("uploadAuthSessionMedia", ({ payload, request }) =>
        Effect.flatMap(CurrentUser, ({ session }) =>
          media.upload(session, payload, request.headers["content-length"])))
  }))

/** The auth group; needs `Authentication`, the repositories and `ApiConfig`. */
export const AuthLive = authGroup.pipe(
  Layer.provide(Auth.DefaultWithoutDependencies),
  Layer.provide(AuthSessionMediaUploads.Default),
  Layer.provide(LoginThrottle.Default)
)
