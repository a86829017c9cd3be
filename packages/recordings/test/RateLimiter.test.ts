import * as Repositories from "@clinic/repository/Repositories"
import { Layer } from "effect"
import { RateLimiter } from "../src/RateLimiter.js"
import { rateLimiterRules } from "./RateLimiterRules.js"

// The limiter's rule over the memory store; the store itself is tested on both databases in
// @clinic/repository (`RateLimitRepoContract`).
rateLimiterRules(
  "memory",
  (config) =>
    RateLimiter.DefaultWithoutDependencies.pipe(Layer.provide(config), Layer.provide(Repositories.layerMemory))
)
