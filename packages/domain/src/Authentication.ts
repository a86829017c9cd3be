import { HttpApiMiddleware, HttpApiSecurity } from "@effect/platform"
import { Context } from "effect"
import type { AuthSession } from "./AuthSession.js"
import { Unauthorized } from "./Errors.js"
import type { User } from "./User.js"

/** The signed-in user and the auth session their bearer token belongs to. */
export class CurrentUser extends Context.Tag("@clinic/domain/CurrentUser")<
  CurrentUser,
  { readonly user: User; readonly session: AuthSession }
>() {}

/**
 * Bearer-token authentication for every group that needs a signed-in user. A missing, unknown,
 * expired, idle or revoked token fails with `Unauthorized` (401).
 */
export class Authentication extends HttpApiMiddleware.Tag<Authentication>()("@clinic/domain/Authentication", {
  failure: Unauthorized,
  provides: CurrentUser,
  security: { bearer: HttpApiSecurity.bearer }
}) {}
