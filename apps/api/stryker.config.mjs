import { mutationConfig } from "../../stryker.base.mjs"

export default mutationConfig({
  // Authentication only: sessions, passwords, tokens, the login throttle and session media.
  mutate: ["src/auth/**/*.ts"],
  testFiles: [
    "test/Auth.test.ts",
    "test/AuthHttp.test.ts",
    "test/Passwords.test.ts",
    "test/Tokens.test.ts",
    "test/LoginThrottle.test.ts",
    "test/AuthSessionMediaUploads.test.ts"
  ],
  // LoginThrottle's suite also runs against Postgres.
  postgres: true
})
