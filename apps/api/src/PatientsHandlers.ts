import { ClinicApi, CurrentUser } from "@clinic/domain"
import { HttpApiBuilder } from "@effect/platform"
import { Effect, Layer } from "effect"
import { Patients } from "./Patients.js"

export const PatientsLive = HttpApiBuilder.group(ClinicApi, "patients", (handlers) =>
  Effect.gen(function*() {
    const patients = yield* Patients
    return handlers
      .handle("create", ({ payload }) => Effect.flatMap(CurrentUser, ({ user }) => patients.create(user.id, payload)))
      .handle("list", ({ urlParams }) => Effect.flatMap(CurrentUser, ({ user }) => patients.list(user.id, urlParams)))
      .handle("get", ({ path }) => Effect.flatMap(CurrentUser, ({ user }) => patients.get(user.id, path.id)))
      .handle(
        "update",
        ({ path, payload }) => Effect.flatMap(CurrentUser, ({ user }) => patients.update(user.id, path.id, payload))
      )
  })).pipe(Layer.provide(Patients.Default))
