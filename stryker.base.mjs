// The StrykerJS settings every package shares; each package's `stryker.config.mjs` adds what it
// mutates and which test files may kill the mutants. `pnpm mutation` runs them one at a time.
import * as Path from "node:path"
import { stdout } from "node:process"
import { fileURLToPath } from "node:url"

const root = import.meta.dirname

/**
 * @param {{ mutate: Array<string>, testFiles: Array<string>, postgres?: boolean }} scope
 *   `testFiles`: the tests a mutant runs against (Stryker runs only those of them that cover it);
 *   `postgres`: whether any of them needs the embedded Postgres that the vitest globalSetup starts.
 */
export const mutationConfig = ({ mutate, postgres = false, testFiles }) => ({
  // Stryker looks for its plugins next to @stryker-mutator/core; pnpm installs the runner elsewhere.
  plugins: [fileURLToPath(import.meta.resolve("@stryker-mutator/vitest-runner"))],
  testRunner: "vitest",
  vitest: {
    // Stryker runs the tests in a copy of the package (.stryker-tmp/sandbox-*), where the package's
    // own vitest.config.ts cannot reach ../../vitest.shared.ts: this config, found by absolute
    // path, takes its root from the working directory, which is the sandbox.
    configFile: Path.join(root, postgres ? "vitest.mutation-postgres.ts" : "vitest.mutation.ts")
  },
  coverageAnalysis: "perTest",
  // Mutants in code that only runs while a module loads would need every test file to import the
  // sources afresh (vitest `isolate`), several times slower; they are left out of the score.
  ignoreStatic: true,
  mutate,
  testFiles,
  // Results are kept per package in a committed file: a rerun tests only the mutants whose code or
  // covering tests changed.
  incremental: true,
  incrementalFile: "reports/stryker-incremental.json",
  reporters: ["clear-text", stdout.isTTY ? "progress" : "progress-append-only", "json", "html"],
  clearTextReporter: { allowColor: stdout.isTTY === true, logTests: false, reportMutants: true },
  jsonReporter: { fileName: "reports/mutation/mutation.json" },
  htmlReporter: { fileName: "reports/mutation/mutation.html" },
  ignorePatterns: ["bench", "coverage", "reports", "dist", "build", ".turbo"],
  concurrency: 2,
  // The machine is shared: a test slowed down by its neighbours is not a mutant stuck in a loop.
  timeoutMS: 10_000,
  thresholds: { high: 80, low: 60, break: null }
})
