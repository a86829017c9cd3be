import { projectRoot } from "@clinic/foundation"
import { Config } from "effect"
import * as Path from "node:path"

/**
 * The folder of session media, one setting for both apps: the API writes files there and the
 * scheduler's cleanup deletes them, refusing any path outside it. Always absolute, so that stored
 * paths mean the same from every app's working folder.
 */
export const mediaDir = Config.string("CLINIC_MEDIA_DIR").pipe(
  Config.withDefault(Path.join(projectRoot(), ".data", "media")),
  Config.map((dir) => Path.resolve(dir))
)
