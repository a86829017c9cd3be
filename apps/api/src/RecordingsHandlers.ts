import type { RateLimited } from "@clinic/domain"
import { ClinicApi, CurrentUser, Recording } from "@clinic/domain"
import type { OutboxStore } from "@clinic/events"
import type { TaskStore } from "@clinic/queue"
import { Pipeline, RateLimiter, RecordingService } from "@clinic/recordings"
import { HttpApiBuilder, HttpApp, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"

/**
 * `RateLimit`, `RateLimit-Policy` (and `Retry-After` on 429) on the response. A typed error is
 * encoded by the builder with no way to add headers, so they go on through a pre-response handler,
 * which sees the final response whether the handler succeeded or failed.
 */
const rateLimitHeaders = (result: RateLimiter.RateLimitStatus | RateLimited) =>
  HttpApp.appendPreResponseHandler((_request, response) =>
    Effect.succeed(HttpServerResponse.setHeaders(response, RateLimiter.rateLimitHeaders(result)))
  )

const withRateLimitHeaders = <A extends { readonly rateLimit: RateLimiter.RateLimitStatus }, E, R>(
  effect: Effect.Effect<A, E, R>
) =>
  effect.pipe(
    Effect.tap(({ rateLimit }) => rateLimitHeaders(rateLimit)),
    Effect.tapError((error) =>
      typeof error === "object" && error !== null && (error as { _tag?: unknown })._tag === "RateLimited"
        ? rateLimitHeaders(error as unknown as RateLimited)
        : Effect.void
    )
  )

export const RecordingsLive = HttpApiBuilder.group(ClinicApi, "recordings", (handlers) =>
  Effect.gen(function*() {
    const service = yield* RecordingService.RecordingService
    const pipeline = yield* Effect.context<TaskStore | OutboxStore>()
    const view = (recording: Recording) => {
      const waitingReason = service.waitingReason(recording)
      return waitingReason === undefined ? recording : new Recording({ ...recording, waitingReason })
    }
    return handlers
      .handle("upload", ({ payload }) =>
        Effect.flatMap(CurrentUser, ({ user }) =>
          service.upload(
            user.id,
            payload,
            (recording) => Effect.provide(Pipeline.onUploaded(recording), pipeline)
          )).pipe(withRateLimitHeaders, Effect.map(({ recording }) => view(recording))))
      .handle("list", ({ urlParams }) =>
        Effect.flatMap(CurrentUser, ({ user }) => service.list(user.id, urlParams)).pipe(
          Effect.map((page) => ({ ...page, items: page.items.map(view) }))
        ))
      .handle("get", ({ path }) =>
        Effect.flatMap(CurrentUser, ({ user }) => service.get(user.id, path.id)).pipe(Effect.map(view)))
      .handle("notes", ({ path }) =>
        Effect.flatMap(CurrentUser, ({ user }) => service.notes(user.id, path.id)))
      .handle("extractNotes", ({ path }) =>
        Effect.flatMap(CurrentUser, ({ user }) =>
          service.requestNotes(user.id, path.id)).pipe(
            withRateLimitHeaders,
            Effect.tap(({ recording }) =>
              Effect.provide(Pipeline.onNotesRequested(recording), pipeline)
            ),
            Effect.map(({ recording }) => view(recording))
          ))
      .handle("supplyTranscript", ({ path, payload }) =>
        Effect.flatMap(CurrentUser, ({ user }) =>
          service.supplyTranscript(user.id, path.id, payload)).pipe(
            Effect.map(view)
          ))
  }))
