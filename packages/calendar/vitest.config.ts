import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["../../packages/repository/src/testing/globalSetup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000
  }
})
