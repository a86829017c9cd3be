import { Config, Effect } from "effect"

/** Every setting of the scheduler app, read in one place; defaults fit the embedded local setup. */
export class SchedulerConfig extends Effect.Service<SchedulerConfig>()("@clinic/scheduler/SchedulerConfig", {
  effect: Effect.gen(function*() {
    return {
      host: yield* Config.string("SCHEDULER_HOST").pipe(Config.withDefault("127.0.0.1")),
      port: yield* Config.port("SCHEDULER_PORT").pipe(Config.withDefault(3001))
    } as const
  })
}) {}
