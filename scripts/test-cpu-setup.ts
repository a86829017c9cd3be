// A vitest setup file (root `vitest.config.ts`, when `CLINIC_TEST_CPU_FILE` is set): appends one
// JSON line per test file with its wall time, the worker's CPU time and the CPU time of the child
// processes the worker reaped meanwhile (Linux: /proc/self/stat), for `pnpm test:cpu`. With two
// workers on two cores the wall times overlap; the CPU times add up to what the run must spend.
import * as Fs from "node:fs"
import { afterAll, beforeAll, expect } from "vitest"

/** CPU time of this process's reaped children (cutime + cstime), in ms (clock ticks of 10 ms). */
const childrenMs = () => {
  const fields = Fs.readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" ")
  return (Number(fields[13]) + Number(fields[14])) * 10
}

const output = process.env.CLINIC_TEST_CPU_FILE!
let start: {
  readonly cpu: NodeJS.CpuUsage
  readonly wall: number
  readonly children: number
  readonly at: number
}

beforeAll(() => {
  start = { cpu: process.cpuUsage(), wall: performance.now(), children: childrenMs(), at: Date.now() }
})

afterAll(() => {
  const cpu = process.cpuUsage(start.cpu)
  const line = {
    file: expect.getState().testPath,
    // When it started and on which worker: the run's timeline, to see what runs alone at its end.
    startedAt: start.at,
    worker: Number(process.env.VITEST_POOL_ID),
    wallMs: Math.round(performance.now() - start.wall),
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    childrenMs: childrenMs() - start.children
  }
  Fs.appendFileSync(output, `${JSON.stringify(line)}\n`)
})
