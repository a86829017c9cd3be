import { projectRoot } from "@clinic/foundation"
import { Config } from "effect"
import * as Path from "node:path"

/**
 * The folder of auth session media (images and videos sent during a login session), one setting
 * for both apps: the API writes files there and the scheduler's cleanup deletes them, refusing any
 * path outside it. Always absolute, so that stored paths mean the same from every app's working folder.
 */
export const authSessionMediaDir = Config.string("CLINIC_AUTH_SESSION_MEDIA_DIR").pipe(
  Config.withDefault(Path.join(projectRoot(), ".data", "auth-session-media")),
  Config.map((dir) => Path.resolve(dir))
)
