import { projectRoot } from "@clinic/foundation"
import { Config } from "effect"
import * as Path from "node:path"

/** The name of the auth session media's file store: its key prefix in a bucket (`CLINIC_STORAGE=s3`). */
export const AUTH_SESSION_MEDIA_STORE = "auth-session-media"

/**
 * The local folder of auth session media (images and videos sent during a login session), one setting
 * for both apps: the API writes files there and the scheduler's cleanup deletes them, refusing any
 * name it did not generate. Always absolute, so that it means the same from every app's working folder.
 */
export const authSessionMediaDir = Config.string("CLINIC_AUTH_SESSION_MEDIA_DIR").pipe(
  Config.withDefault(Path.join(projectRoot(), ".data", "auth-session-media")),
  Config.map((dir) => Path.resolve(dir))
)
