import { Pagination } from "@clinic/domain"
import { projectRoot } from "@clinic/foundation"
import { Config, Effect, Layer, Option, Redacted } from "effect"
import { randomBytes } from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"

/**
 * The installation's own secret when `API_CURSOR_SECRET` is not set: random, made once in
 * `.data/cursor-secret` and kept, so cursors survive restarts. Replicas on other machines must
 * share one secret: set `API_CURSOR_SECRET` on each.
 */
const installationSecret = Effect.sync(() => {
  const file = Path.join(projectRoot(), ".data", "cursor-secret")
  Fs.mkdirSync(Path.dirname(file), { recursive: true })
  if (!Fs.existsSync(file)) {
    // Written aside then linked into place, so that two processes starting at once agree on one.
    const draft = `${file}.${process.pid}.${randomBytes(4).toString("hex")}`
    Fs.writeFileSync(draft, randomBytes(32).toString("base64url"), { mode: 0o600 })
    try {
      Fs.linkSync(draft, file)
    } catch (error) {
      if ((error as { code?: string }).code !== "EEXIST") throw error
    } finally {
      Fs.rmSync(draft, { force: true })
    }
  }
  return Redacted.make(Fs.readFileSync(file, "utf8").trim())
})

/** `Pagination` sealing cursors with `API_CURSOR_SECRET`, or the installation's own secret. */
export const layer: Layer.Layer<Pagination> = Layer.unwrapEffect(
  Effect.gen(function*() {
    const configured = yield* Config.option(Config.redacted("API_CURSOR_SECRET")).pipe(Effect.orDie)
    return Pagination.layer(Option.isSome(configured) ? configured.value : yield* installationSecret)
  })
)
