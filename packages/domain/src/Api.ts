import { HttpApi, OpenApi } from "@effect/platform"
import { AuthApi } from "./AuthApi.js"
import { HealthApi } from "./HealthApi.js"

/** The public API of `apps/api`. Each feature adds its group here. */
export class ClinicApi extends HttpApi.make("clinic")
  .add(HealthApi)
  .add(AuthApi)
  .annotate(OpenApi.Title, "Clinic API")
{}
