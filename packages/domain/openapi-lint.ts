/**
 * `pnpm lint` (this package): both OpenAPI documents, as the apps serve them at `/openapi.json`,
 * checked by Redocly CLI under `redocly.yaml`.
 */
import { OpenApi } from "@effect/platform"
import * as NodeChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { ClinicApi, SchedulerAdminApi } from "./src/index.js"

const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "clinic-openapi-"))
try {
  const documents = {
    "clinic-api": OpenApi.fromApi(ClinicApi),
    "scheduler-admin-api": OpenApi.fromApi(SchedulerAdminApi)
  }
  const files = Object.entries(documents).map(([name, document]) => {
    const file = Path.join(dir, `${name}.json`)
    Fs.writeFileSync(file, JSON.stringify(document, null, 2))
    return file
  })
  const result = NodeChildProcess.spawnSync("redocly", [
    "lint",
    "--config",
    "redocly.yaml",
    "--format",
    "codeframe",
    ...files
  ], {
    stdio: "inherit",
    env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" }
  })
  process.exitCode = result.status ?? 1
} finally {
  Fs.rmSync(dir, { recursive: true, force: true })
}
