import { defineConfig } from "vitest/config"

/**
 * `vitest run --coverage` (each package's `coverage` script): V8 coverage of the package's own
 * `src`, by its own tests, written as `coverage/coverage-final.json`; the root `pnpm coverage`
 * merges every package's file into one table (scripts/coverage-report.mjs).
 */
const coverage = {
  provider: "v8" as const,
  include: ["src/**/*.ts"],
  exclude: ["src/testing/**", "src/bin/**"],
  reporter: ["json"],
  reportsDirectory: "coverage"
}

/** Every package keeps its tests in `test/`, named after the module they test. */
export const unit = defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // A worker keeps its module cache from one test file to the next: `effect` and the sources are
    // imported once per worker instead of once per file. No test mocks a module or needs fresh
    // module state (process-wide metrics are read under names of the test's own).
    isolate: false,
    coverage
  }
})

/**
 * For packages whose tests use Postgres: one server per run (`TEST_DATABASE_URL`, or an embedded
 * one) with a migrated template that each test clones (see packages/repository/src/testing).
 */
export const withPostgres = defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    isolate: false,
    globalSetup: ["../../packages/repository/src/testing/globalSetup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    coverage
  }
})
