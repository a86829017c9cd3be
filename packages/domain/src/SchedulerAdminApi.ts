import { HttpApi, OpenApi } from "@effect/platform"
import { HealthApi } from "./HealthApi.js"

/** The scheduler's admin API. Job and run endpoints join it with the scheduler issue. */
export class SchedulerAdminApi extends HttpApi.make("scheduler-admin")
  .add(HealthApi)
  .annotate(OpenApi.Title, "Clinic scheduler admin API")
{}
