import { mutationConfig } from "../../stryker.base.mjs"

export default mutationConfig({
  // Only the upload checks: the rate limiter, the audio validation and the upload form's limits.
  mutate: ["src/RateLimiter.ts", "src/AudioValidation.ts", "src/UploadForm.ts"],
  testFiles: ["test/RateLimiter.test.ts", "test/AudioValidation.test.ts", "test/UploadForm.test.ts"]
})
