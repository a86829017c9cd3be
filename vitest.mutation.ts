import { defineConfig } from "vitest/config"

/**
 * The tests StrykerJS runs against each mutant (`pnpm mutation`, see stryker.base.mjs), for
 * packages whose mutation tests need no database. Stryker starts vitest in a sandbox copy of the
 * package and names the test files to run; vitest's root is that working directory.
 */
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // As in the ordinary runs, a worker imports the sources once for all its test files: a mutant
    // is switched on at run time, so only mutants in code that runs while a module loads (a
    // schema, a constant) would need a fresh import; those are ignored (`ignoreStatic`).
    isolate: false,
    testTimeout: 30_000
  }
})
