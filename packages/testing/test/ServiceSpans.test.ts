import { assert, describe, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"

const root = Path.join(import.meta.dirname, "..", "..", "..")

/**
 * Where the spans of each service's methods are checked: the test that builds it and calls every
 * method (`methodSpanProblems`), or why it has no methods to trace.
 */
const API = "apps/api/test/Spans.test.ts"
const SCHEDULER = "apps/scheduler/test/Spans.test.ts"
const REPOSITORIES = "packages/repository/test/Spans.test.ts"
const CONFIG = "config: read once at start, no methods"
const DATA = "a value (a Ref, a registry, the request's user), no methods"

const checkedIn: Readonly<Record<string, string>> = {
  Bookings: API,
  Patients: API,
  Calendar: API,
  Auth: API,
  AuthSessionMediaUploads: API,
  LoginThrottle: API,
  RecordingUploads: API,
  RecordingSteps: API,
  RecordingQueries: API,
  RecordingPipeline: API,
  RateLimiter: API,
  RecordingStore: API,
  Transcriber: API,
  NoteExtractor: API,
  FileStores: API,
  Pagination: API,
  Operations: SCHEDULER,
  DashboardSessions: SCHEDULER,
  SessionCleanup: SCHEDULER,
  AuthSessionMediaStore: SCHEDULER,
  ExternalCalendarSync: SCHEDULER,
  Mailer: SCHEDULER,
  RunStore: SCHEDULER,
  TaskStore: SCHEDULER,
  OutboxStore: SCHEDULER,
  SchedulerEngine: SCHEDULER,
  TaskWorker: SCHEDULER,
  EventBus: SCHEDULER,
  UserRepo: REPOSITORIES,
  AuthSessionRepo: REPOSITORIES,
  PatientRepo: REPOSITORIES,
  BookingRepo: REPOSITORIES,
  CalendarFeedRepo: REPOSITORIES,
  ExternalCalendarRepo: REPOSITORIES,
  RecordingRepo: REPOSITORIES,
  RateLimitRepo: REPOSITORIES,
  LoginAuditRepo: REPOSITORIES,
  OperatorActionRepo: REPOSITORIES,
  IdempotencyRepo: REPOSITORIES,
  ApiConfig: CONFIG,
  SchedulerConfig: CONFIG,
  CalendarSyncConfig: CONFIG,
  CleanupConfig: CONFIG,
  MailConfig: CONFIG,
  RecordingsConfig: CONFIG,
  DatabaseConfig: CONFIG,
  StorageConfig: CONFIG,
  TelemetryConfig: CONFIG,
  CurrentUser: DATA,
  MemoryDb: DATA,
  RemovedMedia: DATA,
  TaskRegistry: DATA
}

/** Every `Effect.Service` and `Context.Tag` class of the packages' and apps' sources (test helpers aside). */
const servicesInSources = (): ReadonlyArray<string> => {
  const found: Array<string> = []
  for (const group of ["packages", "apps"]) {
    for (const name of Fs.readdirSync(Path.join(root, group))) {
      const src = Path.join(root, group, name, "src")
      if (!Fs.existsSync(src)) continue
      for (const file of Fs.readdirSync(src, { recursive: true, encoding: "utf8" })) {
        if (!file.endsWith(".ts") || file.split(Path.sep).includes("testing")) continue
        const text = Fs.readFileSync(Path.join(src, file), "utf8")
        for (const match of text.matchAll(/class\s+(\w+)\s+extends\s+(?:Effect\.Service<|Context\.Tag\()/g)) {
          found.push(match[1])
        }
      }
    }
  }
  return found.sort()
}

describe("service spans", () => {
  it("every service of the sources is in a span test, or has no methods", () => {
    assert.deepStrictEqual(servicesInSources(), Object.keys(checkedIn).sort())
    for (const [service, where] of Object.entries(checkedIn)) {
      if (where === CONFIG || where === DATA) continue
      // The service is in that test's table under its span name: `["Bookings", ...]` or `UserRepo,`.
      const table = Fs.readFileSync(Path.join(root, where), "utf8")
      assert.isTrue(
        table.includes(`["${service}",`) || new RegExp(`^\\s+${service},?$`, "m").test(table),
        `${service} is not in the table of ${where}`
      )
    }
  })
})
