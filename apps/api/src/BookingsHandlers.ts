import { ClinicApi, CurrentUser } from "@clinic/domain"
import { HttpApiBuilder } from "@effect/platform"
import { Effect, Layer } from "effect"
import { Bookings } from "./Bookings.js"

export const BookingsLive = HttpApiBuilder.group(ClinicApi, "bookings", (handlers) =>
  Effect.gen(function*() {
    const bookings = yield* Bookings
    return handlers
      .handle("create", ({ headers, payload }) =>
        Effect.flatMap(CurrentUser, ({ user }) =>
          bookings.create(user.id, payload, headers["idempotency-key"])))
      .handle("list", ({ urlParams }) =>
        Effect.flatMap(CurrentUser, ({ user }) => bookings.list(user.id, urlParams)))
      .handle("get", ({ path }) => Effect.flatMap(CurrentUser, ({ user }) => bookings.get(user.id, path.id)))
      .handle("confirm", ({ path }) => Effect.flatMap(CurrentUser, ({ user }) => bookings.confirm(user.id, path.id)))
      .handle("cancel", ({ path }) => Effect.flatMap(CurrentUser, ({ user }) => bookings.cancel(user.id, path.id)))
  })).pipe(Layer.provide(Bookings.DefaultWithoutDependencies))
