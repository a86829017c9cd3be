import type {
  EventView,
  ExpiredBookingPreview,
  InactiveSessionPreview,
  JobDetail,
  JobRun,
  OperatorAction,
  QueueDepthView,
  ReplicaView,
  SchedulerStatus,
  TaskView,
  ThroughputBucket
} from "@clinic/domain"
import { DateTime } from "effect"
import { type Html, html, type Part } from "./Html.js"
import { scheduleText } from "./ScheduleWords.js"

export interface Page {
  readonly title: string
  readonly current: "jobs" | "tasks" | "events" | "replicas" | "cleanup" | "actions"
  readonly body: Html
}

export interface Viewer {
  readonly operator: string
  readonly csrf: string
  readonly now: DateTime.Utc
}

const NAV: ReadonlyArray<readonly [Page["current"], string, string]> = [
  ["jobs", "/ui/jobs", "Jobs"],
  ["tasks", "/ui/tasks", "Queues & tasks"],
  ["events", "/ui/events", "Events"],
  ["replicas", "/ui/replicas", "Replicas"],
  ["cleanup", "/ui/cleanup", "Cleanup"],
  ["actions", "/ui/actions", "Operator actions"]
]

const head = (title: string) =>
  html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Clinic operations</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/ui/assets/dashboard.css"></head>`

export const layout = (page: Page, viewer: Viewer): Html =>
  html`${head(page.title)}<body>
<header><h1>Clinic operations</h1>
<nav>${
    NAV.map(([key, href, label]) =>
      html`<a href="${href}"${key === page.current ? html` class="current" aria-current="page"` : ""}>${label}</a>`
    )
  }</nav>
<div class="who">signed in as <strong data-testid="operator">${viewer.operator}</strong>
<form class="inline" method="post" action="/ui/sign-out">${
    csrfField(viewer)
  }<button type="submit">Sign out</button></form></div>
</header>
<main id="live" data-refresh="3000">${page.body}</main>
<script src="/ui/assets/dashboard.js"></script>
</body></html>`

export const signInPage = (error: string | null): Html =>
  html`${head("Sign in")}<body>
<form class="signin" method="post" action="/ui/sign-in">
<h2>Clinic operations</h2>
<p class="muted">Sign in with the scheduler's admin token (<code>SCHEDULER_ADMIN_TOKEN</code>).</p>
${error === null ? "" : html`<p class="flash bad" role="alert">${error}</p>`}
<label>Your name (kept with every action you take)<input name="operator" required maxlength="80" autocomplete="name"></label>
<label>Admin token<input name="token" type="password" required autocomplete="current-password"></label>
<button type="submit">Sign in</button>
</form></body></html>`

export const errorPage = (title: string, message: string, back: string): Html =>
  html`<section class="card"><h2>${title}</h2><p class="error" role="alert">${message}</p><p><a href="${back}">Back</a></p></section>`

const csrfField = (viewer: Viewer) => html`<input type="hidden" name="_csrf" value="${viewer.csrf}">`

const action = (viewer: Viewer, path: string, label: string, back: string, extra: Part = "", confirm?: string) =>
  html`<form class="inline" method="post" action="${path}"${confirm ? html` data-confirm="${confirm}"` : ""}>${
    csrfField(viewer)
  }<input type="hidden" name="back" value="${back}">${extra}<button type="submit"${
    confirm ? html` class="danger"` : ""
  }>${label}</button></form>`

const time = (at: DateTime.Utc | null, now: DateTime.Utc): Html => {
  if (at === null) return html`<span class="muted">–</span>`
  const iso = DateTime.formatIso(at)
  const seconds = Math.round((DateTime.toEpochMillis(at) - DateTime.toEpochMillis(now)) / 1000)
  const abs = Math.abs(seconds)
  const span = abs < 60
    ? `${abs}s`
    : abs < 3600
    ? `${Math.round(abs / 60)}m`
    : abs < 86400
    ? `${Math.round(abs / 3600)}h`
    : `${Math.round(abs / 86400)}d`
  return html`<time datetime="${iso}" title="${iso}">${
    iso.slice(0, 19).replace("T", " ")
  }</time> <span class="muted">(${seconds > 0 ? `in ${span}` : `${span} ago`})</span>`
}

const badge = (text: string, kind = text) => html`<span class="badge ${kind}">${text}</span>`

const json = (value: unknown) => (value === null || value === undefined ? "" : JSON.stringify(value, null, 2))

const duration = (run: JobRun) =>
  run.startedAt !== null && run.finishedAt !== null
    ? `${((DateTime.toEpochMillis(run.finishedAt) - DateTime.toEpochMillis(run.startedAt)) / 1000).toFixed(2)} s`
    : ""

// Jobs

export const jobsView = (status: SchedulerStatus, running: ReadonlyArray<JobRun>, viewer: Viewer): Html =>
  html`<h2>Jobs</h2>
<p class="muted">Scheduler on <strong>${status.replica}</strong> is ${status.state}. Times in UTC.</p>
<section class="card"><table data-testid="jobs">
<thead><tr><th>Job</th><th>Schedule</th><th>State</th><th>Next runs</th><th>Last run</th><th>Actions</th></tr></thead>
<tbody>${
    status.jobs.map((job) => {
      const schedule = scheduleText(job.schedule)
      const here = running.filter((r) => r.job === job.name)
      return html`<tr data-job="${job.name}">
<td><a href="/ui/jobs/${encodeURIComponent(job.name)}">${job.name}</a></td>
<td>${schedule.words}${schedule.cron === null ? "" : html`<br><code class="muted">${schedule.cron}</code>`}</td>
<td>${
        job.paused
          ? html`${badge("paused")}${job.pausedReason ? html`<br><span class="muted">${job.pausedReason}</span>` : ""}`
          : badge("active", "alive")
      }
${here.map((r) => html`<br>${badge("running", "running")} <span class="muted">on ${r.replica}</span>`)}</td>
<td>${job.nextRuns.slice(0, 3).map((t, i) => html`${i > 0 ? html`<br>` : ""}${time(t, viewer.now)}`)}</td>
<td>${
        job.lastRun === null
          ? html`<span class="muted">never</span>`
          : html`${badge(job.lastRun.outcome)} ${time(job.lastRun.finishedAt ?? job.lastRun.scheduledAt, viewer.now)}`
      }</td>
<td>${action(viewer, `/ui/jobs/${encodeURIComponent(job.name)}/run`, "Run now", "/ui/jobs")}
${
        job.paused
          ? action(viewer, `/ui/jobs/${encodeURIComponent(job.name)}/resume`, "Resume", "/ui/jobs")
          : action(
            viewer,
            `/ui/jobs/${encodeURIComponent(job.name)}/pause`,
            "Pause",
            "/ui/jobs",
            html`<input class="reason" name="reason" placeholder="reason" maxlength="500" aria-label="Pause reason for ${job.name}">`
          )
      }</td></tr>`
    })
  }</tbody></table></section>`

export interface RunFilterForm {
  readonly outcome: string
  readonly from: string
  readonly to: string
}

const OUTCOMES = ["", "running", "succeeded", "failed", "skipped", "interrupted"]

export const jobView = (
  detail: JobDetail,
  runs: ReadonlyArray<JobRun>,
  filter: RunFilterForm,
  viewer: Viewer
): Html => {
  const job = detail.status
  const schedule = scheduleText(job.schedule)
  const self = `/ui/jobs/${encodeURIComponent(job.name)}`
  return html`<h2><a href="/ui/jobs">Jobs</a> / ${job.name}</h2>
<section class="card"><p>${schedule.words}${schedule.cron === null ? "" : html` · <code>${schedule.cron}</code>`} ·
${job.paused ? html`${badge("paused")} ${job.pausedReason ?? ""}` : badge("active", "alive")}</p>
${action(viewer, `${self}/run`, "Run now", self)}
${
    job.paused
      ? action(viewer, `${self}/resume`, "Resume", self)
      : action(
        viewer,
        `${self}/pause`,
        "Pause",
        self,
        html`<input class="reason" name="reason" placeholder="reason" maxlength="500" aria-label="Pause reason">`
      )
  }</section>
<h2>Run history</h2>
<section class="card">
<form class="filters" method="get" action="${self}">
<label>Outcome<select name="outcome">${
    OUTCOMES.map((o) =>
      html`<option value="${o}"${o === filter.outcome ? html` selected` : ""}>${o === "" ? "any" : o}</option>`
    )
  }</select></label>
<label>From (UTC)<input type="datetime-local" name="from" value="${filter.from}" step="1"></label>
<label>To (UTC)<input type="datetime-local" name="to" value="${filter.to}" step="1"></label>
<button type="submit">Filter</button></form>
<table data-testid="runs"><thead><tr><th>Scheduled</th><th>Trigger</th><th>Outcome</th><th>Replica</th><th class="num">Took</th><th>Result or error</th></tr></thead>
<tbody>${
    runs.length === 0
      ? html`<tr><td colspan="6" class="muted">No runs match.</td></tr>`
      : runs.map((run) =>
        html`<tr data-run="${run.id}"><td>${time(run.scheduledAt, viewer.now)}</td><td>${run.trigger}</td><td>${
          badge(run.outcome)
        }${
          run.attempt > 1 ? html` <span class="muted">attempt ${run.attempt}</span>` : ""
        }</td><td>${run.replica}</td><td class="num">${duration(run)}</td><td>${
          run.error !== null
            ? html`<pre class="error">${run.error}</pre>`
            : run.result !== null
            ? html`<pre>${json(run.result)}</pre>`
            : ""
        }</td></tr>`
      )
  }</tbody></table></section>`
}

// Queues and tasks

const chart = (buckets: ReadonlyArray<ThroughputBucket>): Html => {
  const max = Math.max(1, ...buckets.map((b) => b.succeeded + b.dead))
  const width = 360
  const height = 90
  const bar = width / buckets.length
  return html`<svg class="chart" viewBox="0 0 ${width} ${height + 14}" width="${width}" height="${
    height + 14
  }" role="img" aria-label="Finished tasks per five minutes">
${
    buckets.map((b, i) => {
      const ok = (b.succeeded / max) * height
      const bad = (b.dead / max) * height
      const x = i * bar + 2
      return html`<g><title>${
        DateTime.formatIso(b.start).slice(11, 16)
      }: ${b.succeeded} succeeded, ${b.dead} dead</title>
<rect x="${x}" y="${height - ok - bad}" width="${bar - 4}" height="${bad}" fill="#d9534f"></rect>
<rect x="${x}" y="${height - ok}" width="${bar - 4}" height="${ok}" fill="#3aa76d"></rect></g>`
    })
  }<line x1="0" y1="${height}" x2="${width}" y2="${height}" stroke="#b8c2d3"></line>
<text x="0" y="${height + 12}">-60 min</text><text x="${width - 24}" y="${height + 12}">now</text><text x="${
    width - 30
  }" y="10">max ${max}</text></svg>`
}

export interface TaskFilterForm {
  readonly queue: string
  readonly status: string
}

const STATES = ["", "pending", "running", "succeeded", "dead"]

export const tasksView = (
  depth: ReadonlyArray<QueueDepthView>,
  throughput: ReadonlyArray<{ readonly queue: string; readonly buckets: ReadonlyArray<ThroughputBucket> }>,
  tasks: ReadonlyArray<TaskView>,
  filter: TaskFilterForm,
  viewer: Viewer
): Html =>
  html`<h2>Queues</h2>
<section class="card"><table data-testid="queues"><thead><tr><th>Queue</th><th class="num">Ready</th><th class="num">Scheduled</th><th class="num">Running</th><th class="num">Dead</th><th></th></tr></thead>
<tbody>${
    depth.length === 0
      ? html`<tr><td colspan="6" class="muted">No tasks yet.</td></tr>`
      : depth.map((d) =>
        html`<tr data-queue="${d.queue}"><td><a href="/ui/tasks?queue=${
          encodeURIComponent(d.queue)
        }">${d.queue}</a></td><td class="num">${d.ready}</td><td class="num">${d.scheduled}</td><td class="num">${d.running}</td><td class="num">${
          d.dead > 0
            ? html`<a href="/ui/tasks?queue=${encodeURIComponent(d.queue)}&amp;status=dead">${d.dead}</a>`
            : "0"
        }</td><td>${
          d.dead > 0
            ? action(
              viewer,
              `/ui/queues/${encodeURIComponent(d.queue)}/requeue-dead`,
              `Requeue ${d.dead} dead`,
              "/ui/tasks",
              "",
              `Requeue every dead task of ${d.queue}?`
            )
            : ""
        }</td></tr>`
      )
  }</tbody></table></section>
<h2>Last hour</h2>
<div class="legend"><span><span class="swatch ok"></span>succeeded</span><span><span class="swatch bad"></span>dead</span></div>
<div class="grid">${
    throughput.length === 0
      ? html`<section class="card muted">No task finished in the last hour.</section>`
      : throughput.map((q) => {
        const ok = q.buckets.reduce((n, b) => n + b.succeeded, 0)
        const dead = q.buckets.reduce((n, b) => n + b.dead, 0)
        return html`<section class="card" data-chart="${q.queue}"><strong>${q.queue}</strong>
<span class="muted">${ok + dead} finished · ${ok} succeeded · failure rate ${
          ok + dead === 0 ? "0" : ((dead / (ok + dead)) * 100).toFixed(1)
        } %</span><br>${chart(q.buckets)}</section>`
      })
  }</div>
<h2>Tasks</h2>
<section class="card">
<form class="filters" method="get" action="/ui/tasks">
<label>Queue<select name="queue"><option value="">any</option>${
    depth.map((d) =>
      html`<option value="${d.queue}"${d.queue === filter.queue ? html` selected` : ""}>${d.queue}</option>`
    )
  }</select></label>
<label>State<select name="status">${
    STATES.map((s) =>
      html`<option value="${s}"${s === filter.status ? html` selected` : ""}>${s === "" ? "any" : s}</option>`
    )
  }</select></label><button type="submit">Filter</button></form>
<table data-testid="tasks"><thead><tr><th>Task</th><th>Queue</th><th>State</th><th class="num">Attempts</th><th>Created</th><th>Run at</th><th>Finished</th><th>Last error</th></tr></thead>
<tbody>${
    tasks.length === 0
      ? html`<tr><td colspan="8" class="muted">No tasks match.</td></tr>`
      : tasks.map((t) =>
        html`<tr data-task="${t.id}"><td><a href="/ui/tasks/${t.id}">${t.name}</a></td><td>${t.queue}</td><td>${
          badge(t.status)
        }</td><td class="num">${t.attempts}/${t.maxAttempts}</td><td>${time(t.createdAt, viewer.now)}</td><td>${
          time(t.runAt, viewer.now)
        }</td><td>${time(t.finishedAt, viewer.now)}</td><td class="error">${
          t.lastError === null ? "" : t.lastError.slice(0, 160)
        }</td></tr>`
      )
  }</tbody></table></section>`

export const taskView = (task: TaskView, viewer: Viewer): Html => {
  const self = `/ui/tasks/${task.id}`
  return html`<h2><a href="/ui/tasks">Tasks</a> / ${task.name}</h2>
<section class="card" data-testid="task"><table>
<tr><th>Id</th><td><code>${task.id}</code></td></tr>
<tr><th>Queue</th><td>${task.queue}</td></tr>
<tr><th>State</th><td data-testid="task-status">${badge(task.status)}</td></tr>
<tr><th>Attempts</th><td>${task.attempts} of ${task.maxAttempts}</td></tr>
<tr><th>Created</th><td>${time(task.createdAt, viewer.now)}</td></tr>
<tr><th>Run at</th><td>${time(task.runAt, viewer.now)}</td></tr>
<tr><th>Finished</th><td>${time(task.finishedAt, viewer.now)}</td></tr>
<tr><th>Last error</th><td>${task.lastError === null ? "" : html`<pre class="error">${task.lastError}</pre>`}</td></tr>
<tr><th>Payload</th><td><pre data-testid="payload">${
    json(task.payload)
  }</pre><span class="muted">Personal fields are redacted.</span></td></tr>
</table>
${
    task.status === "dead"
      ? html`${action(viewer, `${self}/requeue`, "Requeue", self)}${
        action(viewer, `${self}/discard`, "Discard", "/ui/tasks", "", "Delete this dead task for good?")
      }`
      : ""
  }</section>`
}

// Events, replicas, cleanup, actions

export const eventsView = (events: ReadonlyArray<EventView>, viewer: Viewer): Html =>
  html`<h2>Recent events</h2>
<section class="card"><table data-testid="events"><thead><tr><th>Event</th><th>Occurred</th><th>Relayed</th><th>Deliveries</th><th>Body (redacted)</th></tr></thead>
<tbody>${
    events.length === 0
      ? html`<tr><td colspan="5" class="muted">No events in the outbox.</td></tr>`
      : events.map((e) =>
        html`<tr data-event="${e.id}"><td>${e.type}<br><code class="muted">${e.id.slice(0, 8)}</code></td><td>${
          time(e.occurredAt, viewer.now)
        }</td><td>${time(e.dispatchedAt, viewer.now)}</td><td>${
          e.deliveries.length === 0
            ? html`<span class="muted">no subscriber</span>`
            : e.deliveries.map((d) =>
              html`<div>${d.subscriber} ${badge(d.state)}${
                d.attempts > 1 ? html` <span class="muted">${d.attempts} attempts</span>` : ""
              }${d.lastError === null ? "" : html`<br><span class="error">${d.lastError.slice(0, 120)}</span>`}</div>`
            )
        }</td><td><pre>${json(e.payload)}</pre></td></tr>`
      )
  }</tbody></table></section>`

export const replicasView = (replicas: ReadonlyArray<ReplicaView>, viewer: Viewer): Html =>
  html`<h2>Scheduler replicas</h2>
<p class="muted">Seen in the last hour. A replica is alive while its heartbeat (every half lease) is under three leases old.</p>
<section class="card"><table data-testid="replicas"><thead><tr><th>Replica</th><th>State</th><th>Since</th><th>Last heartbeat</th><th>Queues</th><th>Running now</th></tr></thead>
<tbody>${
    replicas.length === 0
      ? html`<tr><td colspan="6" class="muted">No replica has reported.</td></tr>`
      : replicas.map((r) =>
        html`<tr data-replica="${r.replica}"><td>${r.replica}</td><td>${
          r.alive ? badge("alive") : badge("gone")
        }</td><td>${time(r.startedAt, viewer.now)}</td><td>${time(r.lastSeenAt, viewer.now)}</td><td>${
          r.queues.join(", ")
        }</td><td>${
          r.running.length === 0
            ? html`<span class="muted">idle</span>`
            : r.running.map((run) =>
              html`<div>${run.job} <span class="muted">since</span> ${time(run.startedAt, viewer.now)}</div>`
            )
        }</td></tr>`
      )
  }</tbody></table></section>`

export const cleanupView = (
  inactive: ReadonlyArray<InactiveSessionPreview>,
  expired: ReadonlyArray<ExpiredBookingPreview>,
  viewer: Viewer
): Html =>
  html`<h2>Cleanup preview</h2>
<p class="muted">What the next runs would touch (first 100 of each).</p>
<div class="grid">
<section class="card"><strong>Auth sessions to end</strong> <span class="badge" data-testid="inactive-count">${inactive.length}</span>
<table><thead><tr><th>Session</th><th>User</th><th>Last active</th></tr></thead><tbody>${
    inactive.map((s) =>
      html`<tr><td><code>${s.sessionId.slice(0, 8)}</code></td><td><code>${s.userId.slice(0, 8)}</code></td><td>${
        time(s.lastActiveAt, viewer.now)
      }</td></tr>`
    )
  }</tbody></table></section>
<section class="card"><strong>Booking holds to expire</strong> <span class="badge" data-testid="expired-count">${expired.length}</span>
<table><thead><tr><th>Booking</th><th>Therapist</th><th>Hold ended</th></tr></thead><tbody>${
    expired.map((b) =>
      html`<tr><td><code>${b.bookingId.slice(0, 8)}</code></td><td><code>${b.therapistId.slice(0, 8)}</code></td><td>${
        time(b.holdExpiresAt, viewer.now)
      }</td></tr>`
    )
  }</tbody></table></section></div>`

export const actionsView = (actions: ReadonlyArray<OperatorAction>, viewer: Viewer): Html =>
  html`<h2>Operator actions</h2>
<section class="card"><table data-testid="actions"><thead><tr><th>When</th><th>Who</th><th>What</th><th>Target</th><th>Detail</th></tr></thead>
<tbody>${
    actions.length === 0
      ? html`<tr><td colspan="5" class="muted">Nothing yet.</td></tr>`
      : actions.map((a) =>
        html`<tr><td>${time(a.at, viewer.now)}</td><td>${a.operator}</td><td>${a.action}</td><td>${
          a.target ?? ""
        }</td><td>${a.detail ?? ""}</td></tr>`
      )
  }</tbody></table></section>`
