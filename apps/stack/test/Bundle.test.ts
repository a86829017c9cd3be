import * as EmbeddedPostgres from "@clinic/repository/EmbeddedPostgres"
import * as Migrations from "@clinic/repository/Migrations"
import { databaseUrl, freePort, query, withClient } from "@clinic/repository/testing/TestServer"
import * as S3TestServer from "@clinic/storage/testing/S3TestServer"
import { isRunning } from "@clinic/testing/ChildProcess"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import * as NodeChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll, beforeAll, inject } from "vitest"

/**
 * The production bundle as the README's "Deploying" section runs it: `pnpm build`, each app's
 * `dist/` copied to a folder of its own where no `node_modules` can be found (the bundle needs
 * none), then plain `node`: `migrate --status`, `migrate`, `create-admin`, both apps up, `/health`,
 * SIGTERM.
 */

const appsDir = Path.resolve(import.meta.dirname, "../..")
const projectDir = Path.dirname(appsDir)

// The outer `pnpm test` passes its own settings down as `npm_*` variables; the builds need none.
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("npm_")))

/** The `node_modules` folders Node would search from `dir` up to the root. */
const nodeModulesAbove = (dir: string): Array<string> => {
  const found: Array<string> = []
  for (let current = dir;; current = Path.dirname(current)) {
    if (Fs.existsSync(Path.join(current, "node_modules"))) found.push(Path.join(current, "node_modules"))
    if (Path.dirname(current) === current) return found
  }
}

interface Finished {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs a command to its end; its exit code and output. */
const run = (command: string, args: ReadonlyArray<string>, options: { cwd: string; env?: NodeJS.ProcessEnv }) =>
  Effect.async<Finished>((resume) => {
    const child = NodeChildProcess.spawn(command, [...args], {
      cwd: options.cwd,
      env: options.env ?? cleanEnv,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.on("close", (code) => resume(Effect.succeed({ code, stdout, stderr })))
    return Effect.sync(() => child.kill("SIGKILL"))
  })

const succeeds = (label: string, finished: Finished) =>
  assert.strictEqual(finished.code, 0, `${label} failed:\n${finished.stdout}\n${finished.stderr}`)

/** An app of the bundle, started with `node`, killed if the test ends before it stopped. */
const startApp = (cwd: string, env: NodeJS.ProcessEnv) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const child = NodeChildProcess.spawn(process.execPath, ["main.js"], {
        cwd,
        env,
        stdio: ["ignore", "pipe", "pipe"]
      })
      let output = ""
      child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()))
      child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()))
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
      return { child, exited, output: () => output }
    }),
    ({ child }) => Effect.sync(() => child.exitCode === null && child.kill("SIGKILL"))
  )

/** `GET url` until it answers 200, within a deadline; the body. */
const healthy = (url: string, output: () => string) =>
  Effect.tryPromise(async () => {
    const response = await fetch(url)
    if (response.status !== 200) throw new Error(`status ${response.status}`)
    return (await response.json()) as unknown
  }).pipe(
    Effect.retry({ schedule: Schedule.spaced("200 millis"), times: 150 }),
    Effect.mapError(() => new Error(`${url} never answered 200:\n${output()}`)),
    Effect.orDie
  )

/** SIGTERM, then the exit code, within a deadline. */
const stop = (app: Effect.Effect.Success<ReturnType<typeof startApp>>) =>
  Effect.promise(() => {
    app.child.kill("SIGTERM")
    return app.exited
  }).pipe(
    Effect.timeoutFail({
      duration: "20 seconds",
      onTimeout: () => new Error(`no exit after SIGTERM:\n${app.output()}`)
    }),
    Effect.orDie
  )

/**
 * `pnpm run build` of an app, without pnpm's own start-up: every app's build script is `tsup`,
 * which this runs from the app's folder.
 */
const build = (app: string) => {
  const cwd = Path.join(appsDir, app)
  const manifest = JSON.parse(Fs.readFileSync(Path.join(cwd, "package.json"), "utf8"))
  assert.strictEqual(manifest.scripts.build, "tsup", `${app}'s build script is no longer plain tsup`)
  const tsup = Path.join(cwd, "node_modules", "tsup", "dist", "cli-default.js")
  return Effect.map(run(process.execPath, [tsup], { cwd }), (finished) => succeeds(`build ${app}`, finished))
}

// Built once for the file (both apps and the launcher that runs them, side by side: the launcher
// bundles sources, not the apps' dist), so that no test of it rebuilds a dist another is running
// or copying.
beforeAll(async () => {
  await Effect.runPromise(Effect.all(["api", "scheduler", "stack"].map(build), { concurrency: "unbounded" }))
}, 180_000)

describe("the production bundle", () => {
  it.scopedLive(
    "runs from a copy of dist/ with nothing installed: migrates, starts, answers /health and stops on SIGTERM",
    () =>
      Effect.gen(function*() {
        // Copy each app's dist where nothing of the workspace can be found.
        const root = yield* Effect.acquireRelease(
          Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "clinic-bundle-"))),
          (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
        )
        const dirs = { api: Path.join(root, "api"), scheduler: Path.join(root, "scheduler") }
        for (const [app, dir] of Object.entries(dirs)) {
          Fs.cpSync(Path.join(appsDir, app, "dist"), dir, {
            recursive: true
          })
        }

        for (const dir of Object.values(dirs)) {
          assert.deepStrictEqual(nodeModulesAbove(dir), [], "a package could come from outside the bundle")
          const manifest = JSON.parse(Fs.readFileSync(Path.join(dir, "package.json"), "utf8"))
          assert.isUndefined(manifest.dependencies, `${dir}/package.json asks for an install`)
        }

        // An empty database on the test server.
        const { adminUrl } = inject("clinicDatabase")
        const name = `clinic_bundle_${process.pid}_${Date.now().toString(36)}`
        yield* Effect.acquireRelease(
          withClient(adminUrl, (client) => query(client, `CREATE DATABASE ${name}`)),
          () => withClient(adminUrl, (client) => query(client, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
        )
        const env = {
          PATH: process.env.PATH,
          NODE_ENV: "production",
          DATABASE_URL: databaseUrl(adminUrl, name),
          API_CURSOR_SECRET: "bundle-test-cursor-secret-0123456789",
          CLINIC_RECORDINGS_DIR: Path.join(root, "recordings"),
          CLINIC_AUTH_SESSION_MEDIA_DIR: Path.join(root, "auth-session-media"),
          MAIL_DIR: Path.join(root, "mail"),
          LOG_LEVEL: "warn"
        }
        const migrations = (yield* Effect.orDie(Migrations.loader)).map(([id, name]) =>
          `${String(id).padStart(4, "0")}_${name}`
        )

        const before = yield* run(process.execPath, ["migrate.js", "--status"], { cwd: dirs.api, env })
        succeeds("migrate --status", before)
        assert.deepStrictEqual(before.stdout.trim().split("\n"), [
          ...migrations.map((migration) => `pending  ${migration}`),
          `0 applied, ${migrations.length} pending`
        ])
        succeeds("migrate", yield* run(process.execPath, ["migrate.js"], { cwd: dirs.api, env }))
        const after = yield* run(process.execPath, ["migrate.js", "--status"], { cwd: dirs.scheduler, env })
        succeeds("migrate --status", after)
        const lines = after.stdout.trim().split("\n")
        assert.deepStrictEqual(lines.map((line) => line.split(/\s+/).slice(0, 2).join(" ")), [
          ...migrations.map((migration) => `applied ${migration}`),
          `${migrations.length} applied,`
        ])
        succeeds(
          "create-admin",
          yield* run(process.execPath, ["create-admin.js"], {
            cwd: dirs.api,
            env: { ...env, ADMIN_EMAIL: "root@clinic.test", ADMIN_PASSWORD: "a-long-enough-password" }
          })
        )

        // The API on object storage: the AWS SDK, bundled in, must work from the copy too.
        const s3 = yield* S3TestServer.start()
        const [apiPort, schedulerPort] = [yield* freePort, yield* freePort]
        const api = yield* startApp(dirs.api, { ...env, ...s3.env, API_PORT: String(apiPort) })
        const scheduler = yield* startApp(dirs.scheduler, { ...env, SCHEDULER_PORT: String(schedulerPort) })
        assert.deepStrictEqual(yield* healthy(`http://127.0.0.1:${apiPort}/health`, api.output), {
          status: "ok",
          service: "api"
        })
        assert.deepStrictEqual(yield* healthy(`http://127.0.0.1:${schedulerPort}/health`, scheduler.output), {
          status: "ok",
          service: "scheduler"
        })
        const media = yield* Effect.promise(async () => {
          const base = `http://127.0.0.1:${apiPort}`
          const login = await fetch(`${base}/auth/login`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ email: "root@clinic.test", password: "a-long-enough-password" })
          })
          const { token } = (await login.json()) as { token: string }
          const form = new FormData()
          const png = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d)
          form.append("file", new Blob([png], { type: "image/png" }), "screen.png")
          const upload = await fetch(`${base}/auth/sessions/current/media`, {
            method: "POST",
            headers: { authorization: `Bearer ${token}` },
            body: form
          })
          return { login: login.status, upload: upload.status, body: await upload.json() }
        })
        assert.deepStrictEqual([media.login, media.upload], [200, 201], JSON.stringify(media.body))
        const keys = yield* s3.keys
        assert.strictEqual(keys.length, 1)
        assert.match(keys[0], /^auth-session-media\/[0-9a-f-]{36}$/)
        const codes = yield* Effect.all([stop(api), stop(scheduler)], { concurrency: 2 })
        assert.deepStrictEqual(codes, [0, 0], `exit codes after SIGTERM\n${api.output()}\n${scheduler.output()}`)
      }),
    { timeout: 110_000 }
  )
})

// ---- the launcher (`pnpm start`) ---------------------------------------------------------------

/** The end of a long output, for a failure message. */
const lastLines = (output: string) => output.split("\n").slice(-15).map((line) => line.slice(0, 300)).join("\n")

/** Polls `check` in real time until it holds; dies with `what` after `ms`. */
const within = (ms: number, what: () => string, check: () => boolean) =>
  Effect.gen(function*() {
    const deadline = Date.now() + ms
    while (!check()) {
      if (Date.now() > deadline) return yield* Effect.dieMessage(what())
      yield* Effect.sleep("100 millis")
    }
  })

/** The pid in the first line of a Postgres data folder's `postmaster.pid`, while it runs. */
const postmasterPid = (dataDir: string) => {
  try {
    return Number(Fs.readFileSync(Path.join(dataDir, "postmaster.pid"), "utf8").split("\n")[0])
  } catch {
    return undefined
  }
}

/**
 * A cluster the launcher created and stopped cleanly, migrated, kept for the file's other stacks.
 * The first stack starts on an empty folder (a first `pnpm start`); the others on a copy of its
 * cluster (a second one), which spares each of them initdb and the migrations.
 */
let startedCluster: string | undefined

afterAll(() => {
  if (startedCluster !== undefined) Fs.rmSync(Path.dirname(startedCluster), { recursive: true, force: true })
})

/**
 * `node apps/stack/dist/main.js`, what `pnpm start` runs after its build, on an embedded Postgres
 * in a folder (empty, or a copy of `startedCluster`) and on ports of its own, until both apps
 * answer `/health`. Whatever the test did, the release leaves no process behind: launcher, apps
 * and Postgres are killed if still running.
 */
const startStack = Effect.gen(function*() {
  const dir = yield* Effect.acquireRelease(
    Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "clinic-stack-"))),
    (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
  )
  // mkdtemp makes the folder private to root; the server runs as `postgres` and must reach it.
  Fs.chmodSync(dir, 0o755)
  const dataDir = Path.join(dir, "pg")
  const reused = startedCluster !== undefined
  // `cp -a`: the copy keeps its owner (the `postgres` user when the tests run as root) and modes.
  if (startedCluster !== undefined) {
    succeeds("copy the cluster", yield* run("cp", ["-a", startedCluster, dataDir], { cwd: dir }))
  }
  const [pgPort, apiPort, schedulerPort] = [yield* freePort, yield* freePort, yield* freePort]
  const env = {
    PATH: process.env.PATH,
    LOG_FORMAT: "json",
    CLINIC_PG_DATA_DIR: dataDir,
    CLINIC_PG_PORT: String(pgPort),
    API_PORT: String(apiPort),
    SCHEDULER_PORT: String(schedulerPort),
    CLINIC_RECORDINGS_DIR: Path.join(dir, "recordings"),
    CLINIC_AUTH_SESSION_MEDIA_DIR: Path.join(dir, "auth-session-media"),
    MAIL_DIR: Path.join(dir, "mail")
  }
  let output = ""
  const pids = { api: 0, scheduler: 0 }
  const launcher = yield* Effect.acquireRelease(
    Effect.sync(() => {
      // A process group of its own, like a terminal's foreground job: Ctrl-C is a SIGINT to it.
      const child = NodeChildProcess.spawn(process.execPath, [Path.join(appsDir, "stack", "dist", "main.js")], {
        cwd: projectDir,
        env,
        stdio: ["ignore", "pipe", "pipe"],
        detached: true
      })
      const collect = (chunk: Buffer) => {
        output += chunk.toString()
        for (const match of output.matchAll(/"app started".*?"app":"(api|scheduler)","pid":(\d+)/g)) {
          pids[match[1] as "api" | "scheduler"] = Number(match[2])
        }
      }
      child.stdout.on("data", collect)
      child.stderr.on("data", collect)
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
      return { child, exited }
    }),
    ({ child }) =>
      Effect.sync(() => {
        for (const pid of [child.pid, pids.api, pids.scheduler, postmasterPid(dataDir)]) {
          if (pid !== undefined && pid > 0 && isRunning(pid)) process.kill(pid, "SIGKILL")
        }
      })
  )
  yield* healthy(`http://127.0.0.1:${apiPort}/health`, () => lastLines(output))
  yield* healthy(`http://127.0.0.1:${schedulerPort}/health`, () => lastLines(output))
  assert.isAbove(pids.api, 0, lastLines(output))
  assert.isAbove(pids.scheduler, 0, lastLines(output))
  const exitCode = Effect.promise(() => launcher.exited).pipe(
    Effect.timeoutFail({
      duration: "60 seconds",
      onTimeout: () => new Error(`the launcher never exited:\n${lastLines(output)}`)
    }),
    Effect.orDie
  )
  // A fresh folder must have had its cluster created; a copied one must not have it created again.
  assert.strictEqual(output.includes("creating an embedded PostgreSQL cluster"), !reused, lastLines(output))
  return { launcher: launcher.child, exitCode, pids, dataDir, pgPort, output: () => output }
})

/** Scheduler replicas with a heartbeat row in the stack's database (which must be running). */
const replicas = (pgPort: number) =>
  withClient(
    `postgres://postgres:postgres@127.0.0.1:${pgPort}/postgres`,
    (client) => Effect.map(query(client, "SELECT replica FROM scheduler_replicas"), (result) => result.rows.length)
  )

describe("the launcher (pnpm start)", () => {
  const stopsInOrder = (stop: (launcher: NodeChildProcess.ChildProcess) => void) =>
    Effect.gen(function*() {
      const stack = yield* startStack
      // The scheduler beats right after it starts, which may come after its /health answers.
      yield* replicas(stack.pgPort).pipe(
        Effect.catchAllDefect(() => Effect.succeed(0)),
        Effect.filterOrFail((n) => n === 1, () => new Error(`no heartbeat:\n${lastLines(stack.output())}`)),
        Effect.retry(Schedule.spaced("200 millis").pipe(Schedule.upTo("20 seconds"))),
        Effect.orDie
      )
      stop(stack.launcher)
      assert.strictEqual(yield* stack.exitCode, 0, lastLines(stack.output()))
      assert.isFalse(isRunning(stack.pids.api), "the API still runs")
      assert.isFalse(isRunning(stack.pids.scheduler), "the scheduler still runs")
      assert.isTrue(stack.output().includes("scheduler stopped"), lastLines(stack.output()))
      assert.isFalse(stack.output().includes("heartbeat not removed"), lastLines(stack.output()))
      // The database once more, on the same folder: the scheduler's stop had it to remove its row.
      yield* Effect.scoped(Effect.gen(function*() {
        yield* EmbeddedPostgres.start({ dataDir: stack.dataDir, port: stack.pgPort }).pipe(Effect.orDie)
        assert.strictEqual(yield* replicas(stack.pgPort), 0)
      }))
      if (startedCluster === undefined) {
        const kept = Fs.mkdtempSync(Path.join(Os.tmpdir(), "clinic-cluster-"))
        Fs.chmodSync(kept, 0o755)
        succeeds("keep the cluster", yield* run("cp", ["-a", stack.dataDir, Path.join(kept, "pg")], { cwd: kept }))
        startedCluster = Path.join(kept, "pg")
      }
    })

  it.scopedLive(
    "SIGTERM stops both apps before the database: the scheduler removes its heartbeat; exit 0",
    () => stopsInOrder((launcher) => launcher.kill("SIGTERM")),
    { timeout: 120_000 }
  )

  it.scopedLive(
    "Ctrl-C (SIGINT to the launcher's process group) does the same: the database is not stopped under the apps",
    () => stopsInOrder((launcher) => process.kill(-launcher.pid!, "SIGINT")),
    { timeout: 120_000 }
  )

  it.scopedLive(
    "its embedded Postgres killed: the launcher stops both apps and exits non-zero",
    () =>
      Effect.gen(function*() {
        const stack = yield* startStack
        const postgres = postmasterPid(stack.dataDir)
        assert.isDefined(postgres)
        process.kill(postgres!, "SIGKILL")
        assert.notStrictEqual(yield* stack.exitCode, 0)
        assert.isTrue(stack.output().includes("the embedded PostgreSQL exited"), lastLines(stack.output()))
        assert.isFalse(isRunning(stack.pids.api), "the API still runs")
        assert.isFalse(isRunning(stack.pids.scheduler), "the scheduler still runs")
      }),
    { timeout: 120_000 }
  )

  it.scopedLive(
    "the launcher SIGKILLed: its apps notice and exit",
    () =>
      Effect.gen(function*() {
        const stack = yield* startStack
        stack.launcher.kill("SIGKILL")
        yield* within(
          20_000,
          () => `apps still running 20 s after the launcher's SIGKILL:\n${lastLines(stack.output())}`,
          () => !isRunning(stack.pids.api) && !isRunning(stack.pids.scheduler)
        )
      }),
    { timeout: 120_000 }
  )
})
