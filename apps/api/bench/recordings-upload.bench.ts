import { projectRoot } from "@clinic/foundation"
import { loadAverage, writeSection } from "@clinic/testing/BenchReport"
import { spawnNode } from "@clinic/testing/ChildProcess"
/**
 * `POST /recordings` with a 1 GiB recording through the API app in its own process, over HTTP on
 * 127.0.0.1: throughput, and the API process's resident memory (idle, sampled peak, kernel high
 * water mark) against the target of a flat profile under 100 MiB above idle. Beside it, `cp` of the
 * same bytes to the same disk (and `cp` + `sync`, since the store fsyncs before answering). Results
 * go to stdout and to the `recordings-upload` section of docs/benchmarks.md.
 *
 *   pnpm --filter @clinic/api bench      (or `pnpm bench` at the root)
 *   BENCH_UPLOAD_MIB=1024 BENCH_UPLOAD_ROUNDS=2 to change the size and rounds.
 */
import { Email, PatientId } from "@clinic/domain"
import { Database, EmbeddedPostgres, Migrations, PatientRepo } from "@clinic/repository"
import * as Repositories from "@clinic/repository/Repositories"
import { freePort } from "@clinic/repository/testing/TestServer"
import { FileStores, StorageConfig } from "@clinic/storage"
import { Duration, Effect, Layer, Redacted, Schedule } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as FsP from "node:fs/promises"
import * as Http from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
import { ApiConfig } from "../src/ApiConfig.js"
import { Auth } from "../src/auth/Auth.js"

const MIB = 1024 * 1024
const SIZE = Number(process.env.BENCH_UPLOAD_MIB ?? 1024) * MIB
const ROUNDS = Number(process.env.BENCH_UPLOAD_ROUNDS ?? 2)
const HERE = import.meta.dirname
// `BENCH_CPU_PROF_DIR=/some/dir` writes a V8 CPU profile of each server process there.
const profileArgs = process.env.BENCH_CPU_PROF_DIR
  ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF_DIR}`]
  : []

const tempDir = Effect.acquireRelease(
  Effect.promise(async () => {
    const dir = await FsP.mkdtemp(Path.join(Os.tmpdir(), "clinic-bench-upload-"))
    await FsP.chmod(dir, 0o755)
    return dir
  }),
  (dir) => Effect.promise(() => FsP.rm(dir, { recursive: true, force: true }))
)

/** An MP3-looking file (ID3 header, then a pattern) of `size` bytes, written in 8 MiB chunks. */
const writeSource = (file: string) =>
  Effect.promise(async () => {
    const chunk = Buffer.alloc(8 * MIB)
    for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 31 + 7) & 0xff
    const handle = await FsP.open(file, "w")
    Buffer.from("ID3\x04\x00\x00\x00\x00\x00\x0f").copy(chunk)
    for (let written = 0; written < SIZE; written += chunk.length) {
      await handle.write(chunk.subarray(0, Math.min(chunk.length, SIZE - written)))
      // Only the first chunk carries the ID3 header.
      if (written === 0) { for (let i = 0; i < 10; i++) chunk[i] = (i * 31 + 7) & 0xff }
    }
    await handle.sync()
    await handle.close()
  })

const rssKiB = (pid: number, field: "VmRSS" | "VmHWM") => {
  const status = Fs.readFileSync(`/proc/${pid}/status`, "utf8")
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)
  return match ? Number(match[1]) : Number.NaN
}

const spawnApi = (env: Record<string, string>) =>
  spawnNode([...profileArgs, "--import", "tsx", Path.join(HERE, "app-server.ts")], {
    cwd: Path.join(HERE, ".."),
    env: { ...process.env, ...env }
  })

const waitUntilServing = (url: string) =>
  Effect.tryPromise((signal) => fetch(url, { signal })).pipe(
    Effect.timeout("2 seconds"),
    Effect.filterOrFail((response) => response.status === 200),
    Effect.retry(Schedule.spaced("200 millis").pipe(Schedule.upTo("60 seconds"))),
    Effect.orDie
  )

/** Streams the multipart form from disk; resolves with the status and body once answered. */
const upload = (port: number, token: string, patientId: string, file: string) =>
  Effect.async<{ status: number; body: string }, Error>((resume) => {
    const boundary = `----clinic-bench-${crypto.randomUUID()}`
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="patientId"\r\n\r\n${patientId}\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="session.mp3"\r\n` +
        `Content-Type: audio/mpeg\r\n\r\n`
    )
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`)
    const request = Http.request({
      host: "127.0.0.1",
      port,
      method: "POST",
      path: "/recordings",
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": `multipart/form-data; boundary=${boundary}`,
        "content-length": head.length + SIZE + tail.length
      }
    }, (response) => {
      const chunks: Array<Buffer> = []
      response.on("data", (c: Buffer) => chunks.push(c))
      response.on(
        "end",
        () => resume(Effect.succeed({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString() }))
      )
    })
    request.on("error", (error) => resume(Effect.fail(error)))
    request.write(head)
    const source = Fs.createReadStream(file, { highWaterMark: MIB })
    source.on("end", () => request.end(tail))
    source.pipe(request, { end: false })
  })

const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.timed(effect), ([duration, a]) => ({ seconds: Duration.toMillis(duration) / 1000, result: a }))

const seed = Effect.gen(function*() {
  const auth = yield* Auth
  const email = Email.make("bench-upload@clinic.test")
  const password = "benchmark password"
  const user = yield* auth.register({ email, name: "Bench Therapist", password })
  const { token } = yield* auth.login(email, password, { userAgent: "bench", ip: "127.0.0.1" })
  const patient = yield* Effect.flatMap(
    PatientRepo,
    (patients) =>
      patients.insert({ therapistId: user.id, name: "Bench Patient", email: null, phone: null, notes: null })
  )
  return { token: Redacted.value(token), patientId: PatientId.make(patient.id) }
})

interface Row {
  readonly round: number
  readonly uploadSeconds: number
  readonly idleMiB: number
  readonly sampledPeakMiB: number
  readonly hwmMiB: number
  readonly cpSeconds: number
  readonly cpSyncSeconds: number
}

const mib = (kib: number) => kib / 1024
const rate = (seconds: number) => `${(SIZE / MIB / seconds).toFixed(0)} MiB/s`

const markdown = (rows: ReadonlyArray<Row>, started: Date, load: readonly [string, string]) => {
  const cpus = Os.cpus()
  return [
    "## `POST /recordings`: a 1 GiB recording",
    "",
    `- Date: ${started.toISOString()}`,
    `- Machine: ${cpus[0]?.model ?? "unknown CPU"}, ${cpus.length} cores, ${
      Math.round(Os.totalmem() / 2 ** 30)
    } GiB RAM, ${Os.type()} ${Os.release()}, Node ${process.version}`,
    "- Command: `pnpm bench` (runs `apps/api/bench/recordings-upload.bench.ts`)",
    `- Upload: ${SIZE / MIB} MiB multipart (\`patientId\`, \`file\`) streamed from disk by a node:http client in ` +
    "the bench process to the API app (real handlers, Postgres repositories, embedded PostgreSQL 17) in its own " +
    "process on 127.0.0.1; the store writes `.incoming/<id>.part`, hashes it, fsyncs and renames it. Time is " +
    "from the first byte sent to the 201. RSS from `/proc/<pid>/status` of the API process: idle (after " +
    "start-up and a health check), the largest `VmRSS` sampled every 50 ms during the upload, and the kernel's " +
    "`VmHWM` (peak since start).",
    "- `cp`: the same source file copied to the same disk, then `cp` followed by `sync` of the copy (the store " +
    "fsyncs before answering, so `cp + sync` is the like-for-like figure). Page cache not dropped (no root " +
    "control over it here): the source is warm for both.",
    `- 1-minute load average before / after: ${load[0]} / ${load[1]}.`,
    "",
    "| round | upload s | upload MiB/s | RSS idle MiB | RSS peak sampled MiB | VmHWM MiB | peak - idle MiB | cp s (MiB/s) | cp + sync s (MiB/s) |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows.map((r) =>
      `| ${r.round} | ${r.uploadSeconds.toFixed(2)} | ${rate(r.uploadSeconds).replace(" MiB/s", "")} | ${
        r.idleMiB.toFixed(0)
      } | ${r.sampledPeakMiB.toFixed(0)} | ${r.hwmMiB.toFixed(0)} | ${(r.hwmMiB - r.idleMiB).toFixed(0)} | ${
        r.cpSeconds.toFixed(2)
      } (${rate(r.cpSeconds).replace(" MiB/s", "")}) | ${r.cpSyncSeconds.toFixed(2)} (${
        rate(r.cpSyncSeconds).replace(" MiB/s", "")
      }) |`
    )
  ].join("\n")
}

const program = Effect.gen(function*() {
  const started = new Date()
  const loadBefore = loadAverage()
  const dir = yield* tempDir
  const server = yield* EmbeddedPostgres.start({ dataDir: Path.join(dir, "pg"), port: yield* freePort })
  process.env.CLINIC_AUTH_SESSION_MEDIA_DIR = Path.join(dir, "media")
  const { patientId, token } = yield* Effect.zipRight(Migrations.run, seed).pipe(
    Effect.provide(
      Auth.Default.pipe(
        Layer.provide(ApiConfig.Default),
        Layer.provide(FileStores.FileStores.layer.pipe(Layer.provide(StorageConfig.StorageConfig.layer))),
        Layer.provideMerge(Repositories.layerPg),
        Layer.provideMerge(Database.clientLayer(server.url, { maxConnections: 2 }))
      )
    )
  )
  const source = Path.join(dir, "source.mp3")
  yield* writeSource(source)
  const storage = Path.join(dir, "recordings")

  const rows: Array<Row> = []
  for (let round = 1; round <= ROUNDS; round++) {
    const port = yield* freePort
    const row = yield* Effect.scoped(Effect.gen(function*() {
      const child = yield* spawnApi({
        DATABASE_URL: Redacted.value(server.url),
        API_PORT: String(port),
        CLINIC_RECORDINGS_DIR: storage,
        CLINIC_RECORDINGS_MAX_UPLOAD_BYTES: String(2 * SIZE),
        CLINIC_RECORDINGS_WORKER: "false"
      })
      yield* waitUntilServing(`http://127.0.0.1:${port}/health`)
      const pid = child.pid!
      const idle = rssKiB(pid, "VmRSS")
      let peak = idle
      const sampler = setInterval(() => {
        peak = Math.max(peak, rssKiB(pid, "VmRSS"))
      }, 50)
      const { result, seconds } = yield* timed(upload(port, token, patientId, source)).pipe(
        Effect.ensuring(Effect.sync(() => clearInterval(sampler)))
      )
      if (result.status !== 201) return yield* Effect.dieMessage(`upload answered ${result.status}: ${result.body}`)
      const stored = JSON.parse(result.body) as { storedPath: string; sizeBytes: number }
      if (stored.sizeBytes !== SIZE) return yield* Effect.dieMessage(`stored ${stored.sizeBytes} bytes`)
      const hwm = rssKiB(pid, "VmHWM")
      yield* Effect.promise(() => FsP.rm(Path.join(storage, stored.storedPath)))

      const copy = Path.join(dir, "copy.mp3")
      const cp = yield* timed(Effect.sync(() => ChildProcess.execFileSync("cp", [source, copy])))
      yield* Effect.promise(() => FsP.rm(copy))
      const cpSync = yield* timed(Effect.sync(() => {
        ChildProcess.execFileSync("cp", [source, copy])
        ChildProcess.execFileSync("sync", [copy])
      }))
      yield* Effect.promise(() => FsP.rm(copy))
      return {
        round,
        uploadSeconds: seconds,
        idleMiB: mib(idle),
        sampledPeakMiB: mib(peak),
        hwmMiB: mib(hwm),
        cpSeconds: cp.seconds,
        cpSyncSeconds: cpSync.seconds
      } satisfies Row
    }))
    yield* Effect.logInfo("measured").pipe(Effect.annotateLogs({ ...row }))
    rows.push(row)
  }
  const report = markdown(rows, started, [loadBefore, loadAverage()])
  writeSection(projectRoot(), "recordings-upload", report)
  console.log(report)
}).pipe(Effect.scoped, Effect.timeout(Duration.minutes(15)))

Effect.runPromise(program).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
