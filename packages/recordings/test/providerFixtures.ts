import { Duration, Option, Redacted } from "effect"
import type { ProviderSettings } from "../src/RecordingsConfig.js"

export const settings = (baseUrl: string, overrides: Partial<ProviderSettings> = {}): ProviderSettings => ({
  baseUrl,
  apiKey: Option.some(Redacted.make("sk-test-key")),
  transcriptionModel: "whisper-test",
  notesModel: "notes-test",
  timeout: Duration.seconds(30),
  ...overrides
})

/** Parses a multipart body the way a server would. */
export const formData = (body: Buffer, contentType: string): Promise<FormData> =>
  new Response(body, { headers: { "content-type": contentType } }).formData()
