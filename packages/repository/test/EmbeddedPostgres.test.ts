import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import * as EmbeddedPostgres from "../src/EmbeddedPostgres.js"
import { freePort } from "../src/testing/TestServer.js"

describe("EmbeddedPostgres", () => {
  it.live(
    "a server that dies is reported (`exited`), and closing its scope then returns at once",
    () =>
      Effect.gen(function*() {
        const parent = yield* Effect.acquireRelease(
          Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "clinic-dying-pg-"))),
          (dir) => Effect.promise(() => Fs.rm(dir, { recursive: true, force: true }))
        )
        yield* Effect.promise(() => Fs.chmod(parent, 0o755))
        const dataDir = Path.join(parent, "data")
        const scope = yield* Scope.make()
        const server = yield* EmbeddedPostgres.start({ dataDir, port: yield* freePort, fsync: false }).pipe(
          Scope.extend(scope),
          Effect.orDie
        )
        // Still running: `exited` has not completed.
        assert.isTrue(Exit.isFailure(yield* Effect.exit(Effect.timeout(server.exited, "200 millis"))))
        const pid = Number(
          (yield* Effect.promise(() => Fs.readFile(Path.join(dataDir, "postmaster.pid"), "utf8"))).split("\n")[0]
        )
        process.kill(pid, "SIGKILL")
        yield* Effect.timeout(server.exited, "10 seconds")
        yield* Effect.timeout(Scope.close(scope, Exit.void), "5 seconds")
      }).pipe(Effect.scoped),
    60_000
  )
})
