import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, Multipart, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { Authentication } from "./Authentication.js"
import { MediaKind } from "./AuthSession.js"
import { EmailAlreadyRegistered, NotFound, PayloadTooLarge, Unauthorized, UnsupportedMediaType } from "./Errors.js"
import { AuthSessionId, AuthSessionMediaId } from "./Ids.js"
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
  .add(HttpApiEndpoint.post("logout", "/auth/logout").addSuccess(HttpApiSchema.NoContent))
  .add(HttpApiEndpoint.get("me", "/auth/me").addSuccess(User))
  .add(HttpApiEndpoint.get("sessions", "/auth/sessions").addSuccess(Schema.Array(PublicAuthSession)))
  .add(
    HttpApiEndpoint.del("revokeSession", "/auth/sessions/:id")
      .setPath(Schema.Struct({ id: AuthSessionId }))
      .addSuccess(HttpApiSchema.NoContent)
      .addError(NotFound)
  )
  .add(
    // Streamed rather than buffered: the handler applies the configured size limit itself and
    // answers 413, where a decoded multipart payload would turn the limit into a defect.
    HttpApiEndpoint.post("uploadAuthSessionMedia", "/auth/sessions/current/media")
      .setPayload(HttpApiSchema.MultipartStream(Schema.Struct({ file: MediaFile })))
      .addSuccess(PublicAuthSessionMedia, { status: 201 })
      .addError(PayloadTooLarge)
      .addError(UnsupportedMediaType)
      .addError(InvalidUpload)
  )
  .middlewareEndpoints(Authentication)
  .add(
    HttpApiEndpoint.post("register", "/auth/register")
      .setPayload(RegisterRequest)
      .addSuccess(User, { status: 201 })
      .addError(EmailAlreadyRegistered)
  )
  .add(
    HttpApiEndpoint.post("login", "/auth/login")
      .setPayload(LoginRequest)
      .addSuccess(LoginResponse)
      .addError(Unauthorized)
      .addError(RateLimited)
  )
  .annotate(OpenApi.Title, "Auth")
{}
