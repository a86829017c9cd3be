import type { RateLimited } from "@clinic/domain"
import { ClinicApi, CurrentUser } from "@clinic/domain"
import { Pipeline, RateLimiter, RecordingQueries, RecordingSteps, RecordingUploads } from "@clinic/recordings"
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

/** Maps the recordings services' results to HTTP; every rule lives in @clinic/recordings. */
export const RecordingsLive = HttpApiBuilder.group(ClinicApi, "recordings", (handlers) =>
  Effect.gen(function*() {
    const uploads = yield* RecordingUploads.RecordingUploads
    const steps = yield* RecordingSteps.RecordingSteps
    const queries = yield* RecordingQueries.RecordingQueries
    const pipeline = yield* Pipeline.RecordingPipeline
    return handlers
      .handle("upload", ({ payload }) =>
        Effect.flatMap(CurrentUser, ({ user }) => uploads.upload(user.id, payload)).pipe(
          withRateLimitHeaders,
          Effect.map(({ recording }) => queries.view(recording))
        ))
      .handle("list", ({ urlParams }) => Effect.flatMap(CurrentUser, ({ user }) => queries.list(user.id, urlParams)))
      .handle("get", ({ path }) => Effect.flatMap(CurrentUser, ({ user }) => queries.get(user.id, path.id)))
      .handle("remove", ({ path }) => Effect.flatMap(CurrentUser, ({ user }) => uploads.remove(user.id, path.id)))
      .handle("notes", ({ path }) => Effect.flatMap(CurrentUser, ({ user }) => queries.notes(user.id, path.id)))
      .handle("extractNotes", ({ path }) =>
        Effect.flatMap(CurrentUser, ({ user }) =>
          pipeline.requestNotes(user.id, path.id)).pipe(
            withRateLimitHeaders,
            Effect.map(({ recording }) => queries.view(recording))
          ))
      .handle("supplyTranscript", ({ path, payload }) =>
        Effect.flatMap(CurrentUser, ({ user }) =>
          steps.supplyTranscript(user.id, path.id, payload)).pipe(
            Effect.map(queries.view)
          ))
  }))
