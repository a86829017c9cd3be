import { Schema } from "effect"
import { AuthSessionId, AuthSessionMediaId, UserId } from "./Ids.js"
import { Timestamp } from "./Timestamp.js"

/** A signed-in device. Only the SHA-256 of its bearer token is ever stored. */
export class AuthSession extends Schema.Class<AuthSession>("AuthSession")({
  id: AuthSessionId,
  userId: UserId,
  tokenHash: Schema.String,
  createdAt: Timestamp,
  lastActiveAt: Timestamp,
  expiresAt: Timestamp,
  userAgent: Schema.NullOr(Schema.String),
  ip: Schema.NullOr(Schema.String)
}) {}

export const MediaKind = Schema.Literal("image", "video")
export type MediaKind = typeof MediaKind.Type

/** An image or video sent during an auth session; its file goes when the session goes. */
export class AuthSessionMedia extends Schema.Class<AuthSessionMedia>("AuthSessionMedia")({
  id: AuthSessionMediaId,
  authSessionId: AuthSessionId,
  kind: MediaKind,
  filePath: Schema.String,
  sizeBytes: Schema.NonNegativeInt,
  createdAt: Timestamp
}) {}
