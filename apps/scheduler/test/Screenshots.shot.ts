import { OutboxStore } from "@clinic/events"
import { DateTime, Effect } from "effect"
import { fileURLToPath } from "node:url"
import { it } from "vitest"
import { ADMIN_TOKEN, launchBrowser, seedDeadTask, seedFinishedTasks, startScheduler } from "./dashboardHarness.js"

const docs = fileURLToPath(new URL("../../../docs/", import.meta.url))

/** Seeds a morning's worth of operations, then photographs the main views into docs/. */
it("dashboard screenshots", async () => {
  const scheduler = await startScheduler()
  const browser = await launchBrowser()
  try {
    await scheduler.runtime.runPromise(Effect.gen(function*() {
      const now = yield* DateTime.now
      yield* seedFinishedTasks(now)
      yield* seedDeadTask(DateTime.subtract(now, { minutes: 12 }))
      yield* seedDeadTask(DateTime.subtract(now, { minutes: 3 }), "email.send", "email")
      const outbox = yield* OutboxStore
      const ids = ["5f0c2a8e-6d0b-4d4e-9a51-0f7f1c1d2a01", "5f0c2a8e-6d0b-4d4e-9a51-0f7f1c1d2a02"]
      yield* outbox.insert({
        id: crypto.randomUUID() as never,
        type: "auth_session.expired",
        payload: { _tag: "auth_session.expired", authSessionId: ids[0], userId: ids[1] },
        occurredAt: DateTime.subtract(now, { minutes: 2 }),
        traceParent: null
      })
      yield* outbox.insert({
        id: crypto.randomUUID() as never,
        type: "recording.failed",
        payload: {
          _tag: "recording.failed",
          recordingId: ids[0],
          therapistId: ids[1],
          reason: "provider said: transcript for Jane Doe <jane@example.org> too long"
        },
        occurredAt: DateTime.subtract(now, { minutes: 1 }),
        traceParent: null
      })
    }))
    // Through the admin API, as a script of the operator's would.
    for (
      const path of [
        "/jobs/booking-hold-expiry/run",
        "/jobs/auth-session-cleanup/run",
        "/jobs/calendar-sync/pause?reason=ICS%20provider%20outage%2C%20ticket%20OPS-142"
      ]
    ) {
      const response = await fetch(`${scheduler.url}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` }
      })
      if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`)
    }
    const page = await browser.newPage()
    await page.goto(`${scheduler.url}/ui`)
    await page.getByLabel("Your name").fill("Grace")
    await page.getByLabel("Admin token").fill(ADMIN_TOKEN)
    await page.getByRole("button", { name: "Sign in" }).click()
    await page.locator("tr[data-job]").first().waitFor()
    await page.screenshot({ path: `${docs}dashboard-jobs.png`, fullPage: true })
    await page.goto(`${scheduler.url}/ui/tasks`)
    await page.locator("[data-chart]").first().waitFor()
    // The first screen of it: the task list goes on below.
    await page.screenshot({
      path: `${docs}dashboard-tasks.png`,
      clip: { x: 0, y: 0, width: 1366, height: 1000 },
      fullPage: true
    })
    await page.goto(`${scheduler.url}/ui/tasks?queue=maintenance&status=dead`)
    await page.locator("tr[data-task]").first().getByRole("link").click()
    await page.getByTestId("payload").waitFor()
    await page.screenshot({ path: `${docs}dashboard-task.png`, fullPage: true })
    await page.goto(`${scheduler.url}/ui/events`)
    await page.locator("tr[data-event]").first().waitFor()
    await page.screenshot({ path: `${docs}dashboard-events.png`, fullPage: true })
    await page.goto(`${scheduler.url}/ui/replicas`)
    await page.locator("tr[data-replica]").first().waitFor()
    await page.screenshot({ path: `${docs}dashboard-replicas.png`, fullPage: true })
  } finally {
    await browser.close()
    await scheduler.dispose()
  }
}, 120_000)
