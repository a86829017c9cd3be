/* global process, console */
// A stand-in for an OpenAI-compatible provider, for manual runs and demos only:
// `node packages/recordings/bin/fake-openai.mjs` (FAKE_OPENAI_PORT, default 8089), then
// CLINIC_RECORDINGS_PROVIDER_BASE_URL=http://127.0.0.1:8089. It answers
// /v1/audio/transcriptions with a fixed transcript and /v1/chat/completions with fixed notes,
// reading (and discarding) the uploaded audio as it streams in. Then upload with
// `curl -H "Authorization: Bearer $TOKEN" -F patientId=$PATIENT -F file=@session.mp3 http://127.0.0.1:3000/recordings`.
import * as Http from "node:http"

const port = Number(process.env.FAKE_OPENAI_PORT ?? 8089)
const notes = {
  summary: "The client described poor sleep linked to work stress; coping strategies were discussed.",
  topics: ["sleep", "work stress"],
  mood: "tired but engaged",
  risks: [{ description: "sleep deprivation", severity: "low" }],
  followUpActions: ["keep a sleep diary for two weeks"]
}

Http.createServer((req, res) => {
  let bytes = 0
  req.on("data", (chunk) => (bytes += chunk.length))
  req.on("end", () => {
    console.log(`${new Date().toISOString()} ${req.method} ${req.url} ${bytes} bytes`)
    res.setHeader("content-type", "application/json")
    if (req.url === "/v1/audio/transcriptions") {
      res.end(JSON.stringify({ text: "I have not been sleeping well since the project started.", language: "english" }))
    } else if (req.url === "/v1/chat/completions") {
      res.end(JSON.stringify({
        model: "fake-notes",
        choices: [{ index: 0, finish_reason: "stop", message: { role: "assistant", content: JSON.stringify(notes) } }]
      }))
    } else {
      res.statusCode = 404
      res.end(JSON.stringify({ error: { message: `no route ${req.url}` } }))
    }
  })
}).listen(port, "127.0.0.1", () => console.log(`fake OpenAI-compatible server on http://127.0.0.1:${port}`))
