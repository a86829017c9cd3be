import * as TestDatabase from "@clinic/repository/testing/TestDatabase"
import { Layer } from "effect"
import * as RateLimiter from "../src/RateLimiter.js"
import { rateLimiterContract } from "./RateLimiterContract.js"

rateLimiterContract("memory", (config) => RateLimiter.layerMemory.pipe(Layer.provide(config)))
rateLimiterContract(
  "postgres",
  (config) => RateLimiter.layerPg.pipe(Layer.provide(config), Layer.provide(TestDatabase.layer))
)
