import { SessionCleanup } from "@clinic/cleanup"
import { AdminAuthentication, type NotFound, type RunOutcome, type TaskState } from "@clinic/domain"
import { HttpApiBuilder, HttpApp, HttpRouter, HttpServerRequest, HttpServerResponse, UrlParams } from "@effect/platform"
import { DateTime, Duration, Effect, Layer, Option, Redacted } from "effect"
import { Operations } from "../Operations.js"
import { SchedulerConfig } from "../SchedulerConfig.js"
import { CSS, JS } from "./Assets.js"
import { csrfMatches, type DashboardSession, DashboardSessions, SESSION_LIFETIME } from "./DashboardSessions.js"
import type { Html } from "./Html.js"
import * as Views from "./Views.js"

export const COOKIE = "clinic_dashboard"
/** Fields of a changing form; the CSRF token also travels as a header for scripts. */
const CSRF_FIELD = "_csrf"
const CSRF_HEADER = "x-csrf-token"
const MAX_FORM_BYTES = 16 * 1024

/** The dashboard's pages load their own style sheet and script, and post forms to themselves only. */
export const UI_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

class Refused {
  constructor(readonly status: number, readonly title: string, readonly message: string) {}
}

const page = (markup: Html, status = 200) =>
  HttpServerResponse.text(markup.value, { status, contentType: "text/html; charset=utf-8" }).pipe(
    HttpServerResponse.setHeader("cache-control", "no-store")
  )

const redirect = (location: string) => HttpServerResponse.redirect(location, { status: 303 })

/** Where a form may send the browser back to: a dashboard path, never another site. */
const backTo = (value: string | undefined, fallback: string) =>
  value !== undefined && /^\/ui(\/[\w\-./%]*)?(\?[\w\-=&%.]*)?$/.test(value) && !value.includes("//") ? value : fallback

const query = (request: HttpServerRequest.HttpServerRequest) => new URL(request.url, "http://localhost").searchParams

/** A `datetime-local` value, read as UTC; empty is no bound. */
const utcInput = (value: string | null) => {
  if (value === null || value === "") return Effect.succeed(undefined)
  const parsed = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(value)
    ? DateTime.make(`${value}Z`)
    : Option.none()
  return Option.isSome(parsed)
    ? Effect.succeed(DateTime.toUtc(parsed.value))
    : Effect.fail(new Refused(400, "Bad filter", `Not a date and time: ${value}`))
}

const OUTCOMES: ReadonlyArray<string> = ["running", "succeeded", "failed", "skipped", "interrupted"]
const STATES: ReadonlyArray<string> = ["pending", "running", "succeeded", "dead"]

export const DashboardLive = HttpApiBuilder.Router.use((router) =>
  Effect.gen(function*() {
    const ops = yield* Operations
    const sessions = yield* DashboardSessions
    const auth = yield* AdminAuthentication
    const cleanup = yield* SessionCleanup
    const config = yield* SchedulerConfig

    const cookieOptions = {
      httpOnly: true,
      sameSite: "strict" as const,
      secure: config.dashboardSecureCookie,
      path: "/ui",
      maxAge: SESSION_LIFETIME
    }

    // After the shared security headers (appended earlier), so these are the ones sent. With
    // `no-referrer`, browsers send `Origin: null` on form posts; `same-origin` lets the origin
    // check see the dashboard's own origin and still tells other sites nothing.
    const uiHeaders = HttpApp.appendPreResponseHandler((_request, response) =>
      Effect.succeed(HttpServerResponse.setHeaders(response, {
        "content-security-policy": UI_POLICY,
        "referrer-policy": "same-origin"
      }))
    )

    const currentSession = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const id = request.cookies[COOKIE]
      return id === undefined ? Option.none<DashboardSession>() : yield* sessions.find(id)
    })

    /** A changing request from another site is refused, whatever else it carries. */
    const sameOrigin = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const origin = request.headers["origin"]
      const host = request.headers["host"]
      if (origin === undefined) return
      const originHost = Option.getOrNull(Option.liftThrowable(() => new URL(origin).host)())
      if (originHost === null || originHost !== host) {
        return yield* Effect.fail(new Refused(403, "Refused", "This request came from another site."))
      }
    })

    const readForm = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const length = Number(request.headers["content-length"] ?? "0")
      if (length > MAX_FORM_BYTES) return yield* Effect.fail(new Refused(413, "Too large", "The form is too large."))
      const type = request.headers["content-type"] ?? ""
      if (!type.startsWith("application/x-www-form-urlencoded")) {
        return yield* Effect.fail(
          new Refused(415, "Unsupported", "Expected a form (application/x-www-form-urlencoded).")
        )
      }
      const params = yield* request.urlParamsBody.pipe(
        Effect.mapError(() => new Refused(400, "Bad form", "The form could not be read."))
      )
      return (name: string) => Option.getOrUndefined(UrlParams.getFirst(params, name))
    })

    const viewerOf = (session: DashboardSession) =>
      Effect.map(DateTime.now, (now): Views.Viewer => ({ operator: session.operator, csrf: session.csrf, now }))

    const refusedPage = (refused: Refused, session: Option.Option<DashboardSession>, back: string) =>
      Effect.gen(function*() {
        const body = Views.errorPage(refused.title, refused.message, back)
        if (Option.isNone(session)) return page(body, refused.status)
        const viewer = yield* viewerOf(session.value)
        return page(Views.layout({ title: refused.title, current: "jobs", body }, viewer), refused.status)
      })

    const fromDomain = (error: NotFound | { readonly _tag: string; readonly message: string }) =>
      new Refused(
        error._tag === "NotFound"
          ? 404
          : error._tag === "InvalidTransition"
          ? 409
          : error._tag === "ServiceUnavailable"
          ? 503
          : 400,
        error._tag === "NotFound" ? "Not found" : error._tag === "ServiceUnavailable" ? "Unavailable" : "Not possible",
        error.message
      )

    /** A page for a signed-in operator (the `main` part alone when the refresh script asks). */
    const view = <E extends { readonly _tag: string; readonly message: string }, R>(
      current: Views.Page["current"],
      title: string,
      render: (
        viewer: Views.Viewer,
        request: HttpServerRequest.HttpServerRequest
      ) => Effect.Effect<Html, E | Refused, R>
    ) =>
      Effect.gen(function*() {
        yield* uiHeaders
        const request = yield* HttpServerRequest.HttpServerRequest
        const fragment = request.headers["x-dashboard-fragment"] === "1"
        const session = yield* currentSession
        if (Option.isNone(session)) {
          return fragment ? HttpServerResponse.empty({ status: 401 }) : redirect("/ui/sign-in")
        }
        const viewer = yield* viewerOf(session.value)
        return yield* render(viewer, request).pipe(
          Effect.map((body) => page(fragment ? body : Views.layout({ title, current, body }, viewer))),
          Effect.catchAll((error) =>
            refusedPage(error instanceof Refused ? error : fromDomain(error), session, `/ui/${current}`)
          )
        )
      })

    /** A changing action: signed in, same origin, the session's CSRF token; recorded by `Operations`. */
    const change = <E extends { readonly _tag: string; readonly message: string }, R>(
      fallback: string,
      act: (operator: string, field: (name: string) => string | undefined) => Effect.Effect<unknown, E | Refused, R>
    ) =>
      Effect.gen(function*() {
        yield* uiHeaders
        const request = yield* HttpServerRequest.HttpServerRequest
        const session = yield* currentSession
        return yield* Effect.gen(function*() {
          if (Option.isNone(session)) {
            return yield* Effect.fail(new Refused(401, "Signed out", "Sign in again to do this."))
          }
          yield* sameOrigin
          const field = yield* readForm
          const submitted = field(CSRF_FIELD) ?? request.headers[CSRF_HEADER]
          if (!csrfMatches(session.value, submitted)) {
            return yield* Effect.fail(
              new Refused(403, "Refused", "The form's CSRF token is missing or wrong; reload the page.")
            )
          }
          yield* act(session.value.operator, field)
          return redirect(backTo(field("back"), fallback))
        }).pipe(
          Effect.catchAll((error) =>
            refusedPage(error instanceof Refused ? error : fromDomain(error), session, fallback)
          )
        )
      })

    const signInPage = (error: string | null, status = 200) =>
      Effect.as(uiHeaders, page(Views.signInPage(error), status))

    yield* router.get("/ui", Effect.as(uiHeaders, redirect("/ui/jobs")))
    yield* router.get(
      "/ui/assets/dashboard.css",
      Effect.succeed(HttpServerResponse.text(CSS, { contentType: "text/css; charset=utf-8" }))
    )
    yield* router.get(
      "/ui/assets/dashboard.js",
      Effect.succeed(HttpServerResponse.text(JS, { contentType: "text/javascript; charset=utf-8" }))
    )
    yield* router.get(
      "/ui/sign-in",
      Effect.flatMap(
        currentSession,
        (s) => (Option.isSome(s) ? Effect.succeed(redirect("/ui/jobs")) : signInPage(null))
      )
    )
    yield* router.post(
      "/ui/sign-in",
      Effect.gen(function*() {
        yield* sameOrigin
        const field = yield* readForm
        const operator = (field("operator") ?? "").trim()
        const token = field("token") ?? ""
        if (operator.length === 0 || operator.length > 80 || [...operator].some((c) => c.charCodeAt(0) < 32)) {
          return yield* signInPage("Give your name (at most 80 characters): it is kept with what you do.", 400)
        }
        const valid = yield* auth.bearer(Redacted.make(token)).pipe(
          Effect.as(true),
          Effect.catchAll(() => Effect.succeed(false))
        )
        if (!valid) return yield* signInPage("Wrong admin token.", 401)
        const session = yield* sessions.create(operator)
        yield* ops.record(operator, "sign-in", null, null)
        return HttpServerResponse.unsafeSetCookie(redirect("/ui/jobs"), COOKIE, session.id, cookieOptions)
      }).pipe(
        Effect.catchAll((refused) => Effect.as(uiHeaders, page(Views.signInPage(refused.message), refused.status)))
      )
    )
    yield* router.post(
      "/ui/sign-out",
      Effect.gen(function*() {
        const session = yield* currentSession
        const response = yield* change("/ui/sign-in", (operator) =>
          Effect.gen(function*() {
            if (Option.isSome(session)) yield* sessions.remove(session.value.id)
            yield* ops.record(operator, "sign-out", null, null)
          }))
        return response.status === 303
          ? HttpServerResponse.unsafeSetCookie(redirect("/ui/sign-in"), COOKIE, "", {
            ...cookieOptions,
            maxAge: Duration.zero
          })
          : response
      })
    )

    // Jobs
    yield* router.get(
      "/ui/jobs",
      view("jobs", "Jobs", (viewer) =>
        Effect.gen(function*() {
          const status = yield* ops.status
          const running = yield* ops.runs({ outcome: "running", limit: 200 })
          return Views.jobsView(status, running, viewer)
        }))
    )
    yield* router.get(
      "/ui/jobs/:name",
      view("jobs", "Job", (viewer, request) =>
        Effect.gen(function*() {
          const { name } = yield* HttpRouter.params
          const q = query(request)
          const outcome = q.get("outcome") ?? ""
          if (outcome !== "" && !OUTCOMES.includes(outcome)) {
            return yield* Effect.fail(new Refused(400, "Bad filter", `Unknown outcome: ${outcome}`))
          }
          const from = yield* utcInput(q.get("from"))
          const to = yield* utcInput(q.get("to"))
          const detail = yield* ops.job(name ?? "", 1)
          const runs = yield* ops.runs({
            job: detail.status.name,
            outcome: outcome === "" ? undefined : outcome as RunOutcome,
            from,
            to,
            limit: 100
          })
          return Views.jobView(detail, runs, { outcome, from: q.get("from") ?? "", to: q.get("to") ?? "" }, viewer)
        }))
    )
    const jobAction = (verb: "run" | "pause" | "resume") =>
      router.post(
        `/ui/jobs/:name/${verb}`,
        Effect.flatMap(HttpRouter.params, ({ name }) =>
          change("/ui/jobs", (operator, field) =>
            verb === "run"
              ? ops.runNow(name ?? "", operator)
              : verb === "pause"
              ? ops.pause(name ?? "", (field("reason") ?? "").trim().slice(0, 500) || null, operator)
              : ops.resume(name ?? "", operator)))
      )
    yield* jobAction("run")
    yield* jobAction("pause")
    yield* jobAction("resume")

    // Queues and tasks
    yield* router.get(
      "/ui/tasks",
      view("tasks", "Queues & tasks", (viewer, request) =>
        Effect.gen(function*() {
          const q = query(request)
          const queue = q.get("queue") ?? ""
          const status = q.get("status") ?? ""
          if (status !== "" && !STATES.includes(status)) {
            return yield* Effect.fail(new Refused(400, "Bad filter", `Unknown state: ${status}`))
          }
          const depth = yield* ops.depth
          const throughput = yield* ops.throughput
          const tasks = yield* ops.tasks({
            queue: queue === "" ? undefined : queue,
            status: status === "" ? undefined : status as TaskState,
            limit: 100
          })
          return Views.tasksView(depth, throughput, tasks, { queue, status }, viewer)
        }))
    )
    yield* router.get(
      "/ui/tasks/:id",
      view("tasks", "Task", (viewer) =>
        Effect.flatMap(HttpRouter.params, ({ id }) =>
          Effect.map(ops.task(id ?? ""), (task) => Views.taskView(task, viewer))))
    )
    yield* router.post(
      "/ui/tasks/:id/requeue",
      Effect.flatMap(HttpRouter.params, ({ id }) =>
        change("/ui/tasks", (operator) =>
          ops.requeueTask(id ?? "", operator)))
    )
    yield* router.post(
      "/ui/tasks/:id/discard",
      Effect.flatMap(HttpRouter.params, ({ id }) =>
        change("/ui/tasks", (operator) =>
          ops.discardTask(id ?? "", operator)))
    )
    yield* router.post(
      "/ui/queues/:queue/requeue-dead",
      Effect.flatMap(
        HttpRouter.params,
        ({ queue }) =>
          change("/ui/tasks", (operator) =>
            ops.requeueDead(queue ?? "", operator))
      )
    )

    // Events, replicas, cleanup, actions
    yield* router.get(
      "/ui/events",
      view("events", "Events", (viewer) =>
        Effect.map(ops.events(50), (events) =>
          Views.eventsView(events, viewer)))
    )
    yield* router.get(
      "/ui/replicas",
      view("replicas", "Replicas", (viewer) =>
        Effect.map(ops.replicas, (replicas) =>
          Views.replicasView(replicas, viewer)))
    )
    yield* router.get(
      "/ui/cleanup",
      view("cleanup", "Cleanup", (viewer) =>
        Effect.gen(function*() {
          const inactive = yield* cleanup.previewInactiveSessions({ limit: 100 })
          const expired = yield* cleanup.previewExpiredBookings({ limit: 100 })
          return Views.cleanupView(inactive, expired, viewer)
        }))
    )
    yield* router.get(
      "/ui/actions",
      view("actions", "Operator actions", (viewer) =>
        Effect.map(ops.actions(200), (actions) =>
          Views.actionsView(actions, viewer)))
    )
  })
).pipe(Layer.provide(DashboardSessions.Default))
