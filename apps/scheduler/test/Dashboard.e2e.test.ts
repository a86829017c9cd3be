import { DateTime, Effect } from "effect"
import type { BrowserContext, Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ADMIN_TOKEN, launchBrowser, type Scheduler, seedDeadTask, startScheduler } from "./dashboardHarness.js"

// Every wait below is Playwright's: it polls until its deadline, never a fixed sleep.
const WAIT = { timeout: 15_000 }

describe("dashboard in headless Chromium", () => {
  let scheduler: Scheduler
  let browser: BrowserContext
  let page: Page

  beforeAll(async () => {
    scheduler = await startScheduler()
    browser = await launchBrowser()
    browser.setDefaultTimeout(WAIT.timeout)
    page = await browser.newPage()
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await scheduler?.dispose()
  }, 60_000)

  const signIn = async (token: string) => {
    await page.goto(`${scheduler.url}/ui`)
    await page.getByLabel("Your name").fill("Grace")
    await page.getByLabel("Admin token").fill(token)
    await page.getByRole("button", { name: "Sign in" }).click()
  }

  it("refuses a wrong token", async () => {
    await signIn("not-the-token")
    await page.getByRole("alert").filter({ hasText: "Wrong admin token." }).waitFor(WAIT)
    expect(await page.request.get(`${scheduler.url}/ui/jobs`, { maxRedirects: 0 }).then((r) => r.status())).toBe(303)
  })

  it("signs in, runs a job now and shows its run, pauses with a reason and resumes", async () => {
    await signIn(ADMIN_TOKEN)
    await page.getByTestId("operator").filter({ hasText: "Grace" }).waitFor(WAIT)
    const row = page.locator(`tr[data-job="booking-hold-expiry"]`)
    await row.waitFor(WAIT)

    await row.getByRole("button", { name: "Run now" }).click()
    await row.locator(".badge.succeeded").waitFor(WAIT)
    await row.getByRole("link", { name: "booking-hold-expiry" }).click()
    const run = page.locator("table[data-testid=runs] tr[data-run]").filter({ hasText: "manual" }).first()
    await run.locator(".badge.succeeded").waitFor(WAIT)
    // Its result, as the job returned it.
    await run.locator("pre").waitFor(WAIT)

    await page.getByRole("link", { name: "Jobs", exact: true }).first().click()
    const sync = page.locator(`tr[data-job="calendar-sync"]`)
    await sync.getByPlaceholder("reason").fill("feed provider outage")
    await sync.getByRole("button", { name: "Pause" }).click()
    await sync.getByText("feed provider outage").waitFor(WAIT)
    await sync.locator(".badge.paused").waitFor(WAIT)
    await sync.getByRole("button", { name: "Resume" }).click()
    await sync.getByRole("button", { name: "Pause" }).waitFor(WAIT)
    expect(await sync.locator(".badge.paused").count()).toBe(0)
  })

  it("shows a dead task with its payload redacted, requeues it and watches it succeed", async () => {
    const id = await scheduler.runtime.runPromise(Effect.flatMap(DateTime.now, (now) => seedDeadTask(now)))
    await page.getByRole("link", { name: "Queues & tasks" }).click()
    const queue = page.locator(`tr[data-queue="maintenance"]`)
    await queue.getByRole("button", { name: "Requeue 1 dead" }).waitFor(WAIT)
    await page.locator(`tr[data-task="${id}"] .badge.dead`).waitFor(WAIT)
    await page.locator(`tr[data-task="${id}"]`).getByRole("link").click()

    const payload = await page.getByTestId("payload").textContent()
    expect(payload).toContain("[redacted]")
    expect(payload).not.toContain("Ada")
    expect(payload).not.toContain("ada@example.org")
    await page.getByText("connection reset by peer").waitFor(WAIT)

    await page.getByRole("button", { name: "Requeue" }).click()
    // The page is not reloaded: its refresh script brings the worker's result in.
    await page.getByTestId("task-status").locator(".badge.succeeded").waitFor(WAIT)
  })

  it("refuses a change without the CSRF token, lists the operator's actions, and signs out", async () => {
    const refused = await page.request.post(`${scheduler.url}/ui/jobs/booking-hold-expiry/run`, {
      form: { back: "/ui/jobs" },
      maxRedirects: 0
    })
    expect(refused.status()).toBe(403)
    const foreign = await page.request.post(`${scheduler.url}/ui/jobs/booking-hold-expiry/pause`, {
      form: { _csrf: "whatever" },
      headers: { origin: "https://evil.example" },
      maxRedirects: 0
    })
    expect(foreign.status()).toBe(403)

    await page.getByRole("link", { name: "Operator actions" }).click()
    const actions = page.getByTestId("actions")
    for (const what of ["sign-in", "job.run", "job.pause", "job.resume", "task.requeue"]) {
      await actions.getByRole("cell", { name: what, exact: true }).first().waitFor(WAIT)
    }
    await actions.getByRole("cell", { name: "feed provider outage" }).waitFor(WAIT)
    expect(await actions.getByRole("cell", { name: "job.run", exact: true }).count()).toBe(1)

    await page.getByRole("button", { name: "Sign out" }).click()
    await page.getByLabel("Admin token").waitFor(WAIT)
    await page.goto(`${scheduler.url}/ui/jobs`)
    await page.getByLabel("Admin token").waitFor(WAIT)
  })
}, 120_000)
