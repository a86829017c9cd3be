/**
 * `pnpm bench`: requests/s and latency of `POST /bookings` for the Effect API and for a bare
 * node:http + pg server doing the same queries, in the same run, against one embedded Postgres.
 * Load comes from this process over 127.0.0.1 with a fixed number of keep-alive connections for a
 * fixed time; every request books a fresh, non-overlapping slot so each is a real insert.
 */
import { projectRoot } from "@clinic/foundation"
import { writeSection } from "@clinic/testing/BenchReport"
import type { ChildProcess } from "node:child_process"
import { spawn } from "node:child_process"
import * as Fs from "node:fs/promises"
import * as Http from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const here = Path.dirname(fileURLToPath(import.meta.url))
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 3)
// Rounds alternate the servers, so that a noisy neighbour on a shared machine shows as spread.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2)

const waitFor = async (url: string, deadlineMs: number) => {
  const deadline = Date.now() + deadlineMs
  while (Date.now() < deadline) {
    const ok = await fetch(url).then((r) => r.ok, () => false)
    if (ok) return
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`${url} did not answer within ${deadlineMs} ms`)
}

/**
 * User + system CPU seconds a process has used so far (`/proc/<pid>/stat`, in clock ticks of 10 ms).
 * Per request, it tells what the server itself spends, whatever else the shared machine runs.
 */
const cpuSeconds = async (pid: number) => {
  const stat = await Fs.readFile(`/proc/${pid}/stat`, "utf8")
  // The command name (field 2) may hold spaces; fields are counted after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return (Number(fields[11]) + Number(fields[12])) / 100
}

// `BENCH_CPU_PROF_DIR=/some/dir` writes a V8 CPU profile of each server process there.
const profileArgs = process.env.BENCH_CPU_PROF_DIR
  ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF_DIR}`]
  : []

const start = async (name: string, command: string, args: Array<string>, env: Record<string, string>) => {
  const child = spawn(command, args, {
    cwd: Path.join(here, "..", ".."),
    env: { ...process.env, ...env },
    stdio: "ignore"
  })
  await waitFor(`http://127.0.0.1:${env.PORT ?? env.API_PORT}/health`, 60_000)
  return { name, child }
}

const stop = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null) return resolve()
    child.once("exit", () => resolve())
    child.kill("SIGTERM")
  })

const json = (body: unknown, token?: string): RequestInit => ({
  method: "POST",
  headers: {
    "content-type": "application/json",
    ...(token === undefined ? {} : { authorization: `Bearer ${token}` })
  },
  body: JSON.stringify(body)
})

const expectStatus = async (response: Promise<Response>, status: number, what: string) => {
  const answered = await response
  if (answered.status !== status) {
    throw new Error(`${what} answered ${answered.status} (expected ${status}): ${await answered.text()}`)
  }
  return answered
}

/** Figures only for real inserts: any answer but 201 fails the run before a table is printed. */
const expectCreated = (what: string, result: { requests: number; statuses: Record<string, number> }) => {
  const created = result.statuses["201"] ?? 0
  if (result.requests === 0 || created !== result.requests) {
    throw new Error(
      `${what}: ${created} of ${result.requests} requests answered 201: ${JSON.stringify(result.statuses)}`
    )
  }
}

let slot = 0
const load = async (port: number, token: string, patientId: string, seconds: number) => {
  const agent = new Http.Agent({ keepAlive: true, maxSockets: CONNECTIONS })
  const latencies: Array<number> = []
  const statuses = new Map<number, number>()
  const deadline = performance.now() + seconds * 1000
  const base = Date.parse("2030-01-01T00:00:00Z")
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const i = slot++
      const body = JSON.stringify({
        patientId,
        startsAt: new Date(base + i * 3_600_000).toISOString(),
        endsAt: new Date(base + i * 3_600_000 + 1_800_000).toISOString()
      })
      const began = performance.now()
      const req = Http.request({
        host: "127.0.0.1",
        port,
        method: "POST",
        path: "/bookings",
        agent,
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body)
        }
      }, (res) => {
        res.resume()
        res.on("end", () => {
          latencies.push(performance.now() - began)
          statuses.set(res.statusCode!, (statuses.get(res.statusCode!) ?? 0) + 1)
          resolve()
        })
      })
      req.on("error", reject)
      req.end(body)
    })
  const began = performance.now()
  await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
    while (performance.now() < deadline) await one()
  }))
  const elapsed = (performance.now() - began) / 1000
  agent.destroy()
  latencies.sort((a, b) => a - b)
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]
  return {
    requests: latencies.length,
    rps: latencies.length / elapsed,
    p50: pct(0.5),
    p99: pct(0.99),
    max: latencies[latencies.length - 1],
    statuses: Object.fromEntries(statuses)
  }
}

const loadBefore = Os.loadavg()

const main = async () => {
  const { start: startPostgres } = await import("@clinic/repository/EmbeddedPostgres")
  const { freePort } = await import("@clinic/repository/testing/TestServer")
  const { Effect, Redacted, Scope, Exit } = await import("effect")
  const dir = await Fs.mkdtemp(Path.join(Os.tmpdir(), "clinic-bench-pg-"))
  await Fs.chmod(dir, 0o755)
  const scope = Effect.runSync(Scope.make())
  const pgPort = await Effect.runPromise(freePort)
  const server = await Effect.runPromise(
    Scope.extend(startPostgres({ dataDir: Path.join(dir, "data"), port: pgPort, fsync: false }), scope)
  )
  const url = Redacted.value(server.url)
  const children: Array<ChildProcess> = []
  try {
    // The Effect app migrates on start; the baseline then uses the same schema.
    const apiPort = await Effect.runPromise(freePort)
    const effectApp = await start("effect", process.execPath, [...profileArgs, "bench/bookings/dist/app-server.js"], {
      DATABASE_URL: url,
      API_PORT: String(apiPort)
    })
    children.push(effectApp.child)
    const basePort = await Effect.runPromise(freePort)
    const baseline = await start("baseline", process.execPath, [...profileArgs, "bench/bookings/baseline-server.mjs"], {
      DATABASE_URL: url,
      PORT: String(basePort)
    })
    children.push(baseline.child)

    // Each server gets its own therapist, signed up and in through the app's real auth flow
    // (register, login, bearer token); the baseline checks the same session rows by token digest.
    const signUp = async (name: string) => {
      const api = `http://127.0.0.1:${apiPort}`
      const email = `${name.toLowerCase()}-${crypto.randomUUID()}@bench.test`
      const password = "benchmark password"
      await expectStatus(
        fetch(`${api}/auth/register`, json({ email, name, password })),
        201,
        "register"
      )
      const login = await expectStatus(fetch(`${api}/auth/login`, json({ email, password })), 200, "login")
      const { token } = (await login.json()) as { token: string }
      const patient = await expectStatus(
        fetch(`${api}/patients`, json({ name: "Bench Patient" }, token)),
        201,
        "create patient"
      )
      const { id: patientId } = (await patient.json()) as { id: string }
      return { token, patientId }
    }
    const results: Array<
      { name: string; round: number; cpuMsPerRequest: number } & Awaited<ReturnType<typeof load>>
    > = []
    const servers = [["node:http + pg", basePort, baseline.child], ["Effect API", apiPort, effectApp.child]] as const
    const seeded = await Promise.all(servers.map(([name]) => signUp(name.replace(/\W+/g, "-"))))
    for (const [i, [, port]] of servers.entries()) {
      expectCreated("warm-up", await load(port, seeded[i].token, seeded[i].patientId, WARMUP_SECONDS))
    }
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [i, [name, port, child]] of servers.entries()) {
        const cpuBefore = await cpuSeconds(child.pid!)
        const result = await load(port, seeded[i].token, seeded[i].patientId, SECONDS)
        const cpuMsPerRequest = (1000 * (await cpuSeconds(child.pid!) - cpuBefore)) / result.requests
        expectCreated(`${name}, round ${round}`, result)
        results.push({ name, round, cpuMsPerRequest, ...result })
      }
    }

    const cpu = Os.cpus()[0]?.model ?? "unknown cpu"
    const body = [
      "## `POST /bookings`",
      "",
      `- Date: ${new Date().toISOString()}`,
      `- Machine: ${Os.cpus().length} x ${cpu}, ${
        Math.round(Os.totalmem() / 2 ** 30)
      } GiB RAM, ${Os.type()} ${Os.release()}, Node ${process.version}`,
      "- Command: `pnpm bench` (runs `apps/api/bench/bookings/run.ts` after bundling the app with tsup)",
      `- Load: ${CONNECTIONS} keep-alive connections, ${ROUNDS} rounds of ${SECONDS} s per server after ${WARMUP_SECONDS} s ` +
      "warm-up each, servers alternating; every request books a fresh slot (a real insert through the exclusion " +
      "constraint, its outbox event and notification), and the run fails without figures unless every answer is a 201.",
      `- 1-minute load average before / after: ${loadBefore[0].toFixed(2)} / ${Os.loadavg()[0].toFixed(2)}`,
      "",
      "| server | round | requests | req/s | server CPU ms per request | p50 ms | p99 ms | max ms | statuses |",
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
      ...results.map((r) =>
        `| ${r.name} | ${r.round} | ${r.requests} | ${r.rps.toFixed(0)} | ${r.cpuMsPerRequest.toFixed(2)} | ${
          r.p50.toFixed(1)
        } | ${r.p99.toFixed(1)} | ${r.max.toFixed(1)} | ${JSON.stringify(r.statuses)} |`
      )
    ].join("\n")
    console.log(body)
    writeSection(projectRoot(), "bookings", body)
  } finally {
    await Promise.all(children.map(stop))
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await Fs.rm(dir, { recursive: true, force: true })
  }
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
