import { defineConfig } from "vitest/config"

/** Every package keeps its tests in `test/`, named after the module they test. */
export const unit = defineConfig({
  test: {
    include: ["test/**/*.test.ts"]
  }
})

/**
 * For packages whose tests use Postgres: one server per run (`TEST_DATABASE_URL`, or an embedded
 * one) with a migrated template that each test clones (see packages/repository/src/testing).
 */
export const withPostgres = defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["../../packages/repository/src/testing/globalSetup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000
  }
})
