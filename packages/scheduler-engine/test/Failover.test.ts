import { freshDatabase } from "@clinic/repository/testing/TestDatabase"
import { query, withClient } from "@clinic/repository/testing/TestServer"
import { spawnNode } from "@clinic/testing/ChildProcess"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const HERE = Path.dirname(fileURLToPath(import.meta.url))

interface Claim {
  readonly id: number
  readonly replica: string
  readonly attempt: number
}

/** Polls (real time) until `f` returns a value, failing after `timeoutMs`. */
const pollFor = <A>(f: Effect.Effect<A | undefined>, timeoutMs: number) =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const value = yield* f
      if (value !== undefined) return value
      if (Date.now() > deadline) return yield* Effect.dieMessage(`not reached within ${timeoutMs} ms`)
      yield* Effect.sleep("50 millis")
    }
  })

describe("failover between two real scheduler processes", () => {
  it.live(
    "after kill -9 of the replica running a job, the other takes its claim over within 10 s",
    () =>
      Effect.gen(function*() {
        const url = yield* freshDatabase
        const replica = (name: string) =>
          spawnNode(["--import", "tsx", Path.join(HERE, "fixtures", "replica.ts")], {
            cwd: Path.join(HERE, ".."),
            env: { ...process.env, DATABASE_URL: url, REPLICA: name, LOG_LEVEL: "warn" }
          })
        const processes = { "replica-a": yield* replica("replica-a"), "replica-b": yield* replica("replica-b") }
        const running = withClient(url, (client) =>
          Effect.map(
            query(client, "SELECT id, replica, attempt FROM scheduler_runs WHERE job = 'hold' AND outcome = 'running'"),
            (result) => result.rows as Array<Claim>
          ))

        const claim = yield* pollFor(Effect.map(running, (rows) => rows[0]), 20_000)
        const holder = claim.replica as keyof typeof processes
        const survivor = holder === "replica-a" ? "replica-b" : "replica-a"
        processes[holder].kill("SIGKILL")
        const killedAt = Date.now()

        const taken = yield* pollFor(
          Effect.map(running, (rows) => rows.find((row) => row.id === claim.id && row.replica === survivor)),
          15_000
        )
        const elapsed = Date.now() - killedAt
        assert.strictEqual(taken.attempt, claim.attempt + 1)
        // The default lease (6 s) bounds it by design; 10 s is the promise.
        assert.isBelow(elapsed, 10_000)
        console.log(`failover: claim ${claim.id} taken over by ${survivor} ${elapsed} ms after kill -9 of ${holder}`)
      }).pipe(Effect.scoped),
    60_000
  )
})
