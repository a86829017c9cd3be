import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, Multipart, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { Authentication } from "./Authentication.js"
import { MediaKind } from "./AuthSession.js"
import { EmailAlreadyRegistered, NotFound, PayloadTooLarge, Unauthorized, UnsupportedMediaType } from "./Errors.js"
import { AuthSessionId, AuthSessionMediaId } from "./Ids.js"
import { docs } from "./OpenApiDocs.js"
import { RateLimited } from "./Recordings.js"
import { Timestamp } from "./Timestamp.js"
import { EmailInput, User } from "./User.js"

/** Long enough to resist guessing; bounded so that hashing a request body stays cheap. */
export const Password = Schema.String.pipe(
  Schema.minLength(12, { message: () => "A password has at least 12 characters" }),
  Schema.maxLength(256, { message: () => "A password has at most 256 characters" })
)

export class RegisterRequest extends Schema.Class<RegisterRequest>("RegisterRequest")({
  email: EmailInput,
  name: User.fields.name,
  password: Password
}) {}

export class LoginRequest extends Schema.Class<LoginRequest>("LoginRequest")({
  email: EmailInput,
  password: Schema.String.pipe(Schema.maxLength(256))
}) {}

/**
 * What a client sees of an auth session: never its token hash. `current` marks the session the
 * request was made with.
 */
export class PublicAuthSession extends Schema.Class<PublicAuthSession>("PublicAuthSession")({
  id: AuthSessionId,
  createdAt: Timestamp,
  lastActiveAt: Timestamp,
  expiresAt: Timestamp,
  userAgent: Schema.NullOr(Schema.String),
  ip: Schema.NullOr(Schema.String),
  current: Schema.Boolean
}) {}

/**
 * A new bearer token. It is shown once: the server keeps only its SHA-256. The session ends at
 * `expiresAt` at the latest, earlier when idle for `idleTimeoutSeconds`.
 */
export class LoginResponse extends Schema.Class<LoginResponse>("LoginResponse")({
  token: Schema.Redacted(Schema.String),
  tokenType: Schema.Literal("Bearer"),
  expiresAt: Timestamp,
  idleTimeoutSeconds: Schema.NonNegativeInt,
  session: PublicAuthSession
}) {}

export const MediaFormat = Schema.Literal("png", "jpeg", "gif", "webp", "mp4", "webm", "quicktime")
export type MediaFormat = typeof MediaFormat.Type

/** A recorded image or video; where the server keeps its file is none of the client's business. */
export class PublicAuthSessionMedia extends Schema.Class<PublicAuthSessionMedia>("PublicAuthSessionMedia")({
  id: AuthSessionMediaId,
  authSessionId: AuthSessionId,
  kind: MediaKind,
  format: MediaFormat,
  sizeBytes: Schema.NonNegativeInt,
  createdAt: Timestamp
}) {}

/** The `file` part of a media upload; documented as one binary file. */
const MediaFile = Multipart.SingleFileSchema.annotations({
  jsonSchema: { type: "string", format: "binary" },
  description: "A PNG, JPEG, GIF or WebP image, or an MP4, WebM or QuickTime video; checked by its content"
})

/** A multipart body that is not one readable `file` part. */
export class InvalidUpload extends Schema.TaggedError<InvalidUpload>()(
  "InvalidUpload",
  { message: Schema.String, field: Schema.String },
  HttpApiSchema.annotations({ status: 400 })
) {}

/**
 * Sign-up, sign-in and the caller's own sessions. Everything but `register` and `login` needs a
 * bearer token (the `Authentication` middleware).
 */
export class AuthApi extends HttpApiGroup.make("auth")
  .add(
    HttpApiEndpoint.post("logout", "/auth/logout").annotateContext(
      docs("Sign out", "Ends the auth session the request was made with; its token stops working.")
    ).addSuccess(HttpApiSchema.NoContent)
  )
  .add(
    HttpApiEndpoint.get("me", "/auth/me").annotateContext(
      docs("The signed-in user", "The account the bearer token belongs to.")
    ).addSuccess(User)
  )
  .add(
    HttpApiEndpoint.get("sessions", "/auth/sessions").annotateContext(
      docs(
        "List my auth sessions",
        "The signed-in user's auth sessions (never a token or its hash); `current` marks this request's."
      )
    ).addSuccess(Schema.Array(PublicAuthSession))
  )
  .add(
    HttpApiEndpoint.del("revokeSession", "/auth/sessions/:id").annotateContext(
      docs(
        "Revoke an auth session",
        "Ends one of the signed-in user's auth sessions (another device's sign-in). Another user's session is a 404."
      )
    )
      .setPath(Schema.Struct({ id: AuthSessionId }))
      .addSuccess(HttpApiSchema.NoContent)
      .addError(NotFound)
  )
  .add(
    // Streamed rather than buffered: the handler applies the configured size limit itself and
    // answers 413, where a decoded multipart payload would turn the limit into a defect.
    HttpApiEndpoint.post("uploadAuthSessionMedia", "/auth/sessions/current/media").annotateContext(
      docs(
        "Attach media to the current auth session",
        "Multipart `file`: an image or video recorded during this login session, streamed to storage and checked by its content (415 otherwise); over the configured size limit is a 413. Removed with the session."
      )
    )
      .setPayload(HttpApiSchema.MultipartStream(Schema.Struct({ file: MediaFile })))
      .addSuccess(PublicAuthSessionMedia, { status: 201 })
      .addError(PayloadTooLarge)
      .addError(UnsupportedMediaType)
      .addError(InvalidUpload)
  )
  .middlewareEndpoints(Authentication)
  .add(
    HttpApiEndpoint.post("register", "/auth/register").annotateContext(
      docs(
        "Register a therapist",
        "Creates a therapist account (admins come only from the `create-admin` CLI). An email already registered is a 409 `EmailAlreadyRegistered`. No token needed."
      )
    )
      .setPayload(RegisterRequest)
      .addSuccess(User, { status: 201 })
      .addError(EmailAlreadyRegistered)
  )
  .add(
    HttpApiEndpoint.post("login", "/auth/login").annotateContext(
      docs(
        "Sign in",
        "Opens an auth session for the email and password: the bearer token is in this response only (the server keeps its SHA-256). Wrong credentials are a 401. No token needed."
      )
    )
      .setPayload(LoginRequest)
      .addSuccess(LoginResponse)
      .addError(Unauthorized)
      .addError(RateLimited)
  )
  .annotate(OpenApi.Title, "Auth")
  .annotate(OpenApi.Description, "Sign-up, sign-in, and the signed-in user's auth sessions and their media.")
{}
