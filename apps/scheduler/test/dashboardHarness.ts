import * as TestDatabase from "@clinic/repository/testing/TestDatabase"
import { freePort } from "@clinic/repository/testing/TestServer"
import { SqlClient } from "@effect/sql"
import { ConfigProvider, DateTime, Effect, Layer, ManagedRuntime } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { chromium } from "playwright-core"
import { AppLive, ConfigLive } from "../src/App.js"

export const ADMIN_TOKEN = "dashboard-test-token-0123456789"

/** Debian's Chromium, launched as CI launches it; a fresh profile each time, removed on close. */
export const launchBrowser = async () => {
  const profile = mkdtempSync(join(tmpdir(), "clinic-chromium-"))
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    headless: true,
    viewport: { width: 1366, height: 820 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync"
    ]
  })
  // The context's "close" event comes while Chromium still writes its profile: the folder goes once
  // `close()` has waited for the browser process to end.
  const close = browser.close.bind(browser)
  browser.close = async (options) => {
    await close(options)
    rmSync(profile, { recursive: true, force: true, maxRetries: 3 })
  }
  return browser
}

/**
 * The whole scheduler app (engine, workers, event bus, admin API and dashboard) as `main` runs it,
 * on a fresh test database and a free port.
 */
export const startScheduler = async () => {
  const port = await Effect.runPromise(freePort)
  const dir = mkdtempSync(join(tmpdir(), "clinic-dashboard-"))
  const env = {
    SCHEDULER_PORT: String(port),
    SCHEDULER_ADMIN_TOKEN: ADMIN_TOKEN,
    SCHEDULER_REPLICA_ID: "scheduler-a",
    MAIL_DIR: join(dir, "mail"),
    CLINIC_AUTH_SESSION_MEDIA_DIR: join(dir, "media"),
    LOG_LEVEL: "warn"
  }
  const config = ConfigLive.pipe(
    Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))
  )
  const runtime = ManagedRuntime.make(
    AppLive.pipe(Layer.provideMerge(TestDatabase.layer), Layer.provideMerge(config), Layer.orDie)
  )
  await runtime.runPromise(Effect.void)
  const dispose = async () => {
    await runtime.dispose()
    rmSync(dir, { recursive: true, force: true })
  }
  return { url: `http://127.0.0.1:${port}`, runtime, dispose }
}

export type Scheduler = Awaited<ReturnType<typeof startScheduler>>

/**
 * A maintenance task that died after its three attempts, as the worker leaves one (written
 * directly: a worker would race a claim made here). Its payload carries personal fields the
 * dashboard must hide.
 */
export const seedDeadTask = (finishedAt: DateTime.Utc, name = "maintenance.prune", queue = "maintenance") =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const id = crypto.randomUUID()
    const payload = JSON.stringify({
      requestedBy: { name: "Ada Lovelace", email: "ada@example.org", phone: "+44 20 7946 0000" },
      note: "patient said something private"
    })
    const at = DateTime.formatIso(finishedAt)
    yield* sql`INSERT INTO tasks (id, name, queue, payload, priority, status, attempts, max_attempts, run_at,
                 last_error, created_at, updated_at, finished_at)
               VALUES (${id}, ${name}, ${queue}, ${payload}::jsonb, 0, 'dead', 3, 3, ${at},
                 'Error: connection reset by peer', ${at}, ${at}, ${at})`
    return id
  }).pipe(Effect.orDie)

/** Finished tasks over the last hour, so that the throughput chart has bars. */
export const seedFinishedTasks = (now: DateTime.Utc) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    for (let i = 0; i < 40; i++) {
      const at = DateTime.formatIso(DateTime.subtract(now, { minutes: (i * 37) % 58 }))
      const status = i % 9 === 4 ? "dead" : "succeeded"
      yield* sql`INSERT INTO tasks (id, name, queue, payload, priority, status, attempts, max_attempts, run_at,
                   last_error, created_at, updated_at, finished_at)
                 VALUES (${crypto.randomUUID()}, ${i % 2 === 0 ? "email.send" : "calendar.sync-feed"},
                   ${i % 2 === 0 ? "email" : "calendar"}, '{}'::jsonb, 0, ${status}, 1, 3, ${at},
                   ${status === "dead" ? "SMTP 421 try again later" : null}, ${at}, ${at}, ${at})`
    }
  }).pipe(Effect.orDie)
