import * as Path from "node:path"
import { defineConfig, mergeConfig } from "vitest/config"
import mutation from "./vitest.mutation.js"

/** `vitest.mutation.ts` with the embedded Postgres that the contract suites' Postgres runs use. */
export default mergeConfig(
  mutation,
  defineConfig({
    test: {
      globalSetup: [Path.join(import.meta.dirname, "packages/repository/src/testing/globalSetup.ts")],
      hookTimeout: 60_000
    }
  })
)
