import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

/** The 1-minute load average, as the sections print it. */
export const loadAverage = () => Os.loadavg()[0].toFixed(2)

/**
 * Machine and run facts every benchmark section starts with; `loadBefore` is `loadAverage()` taken
 * when the benchmark started (the one after is taken now).
 */
export const machine = (postgres: string, command: string, loadBefore: string) =>
  [
    `- date: ${new Date().toISOString()}`,
    `- command: \`${command}\``,
    `- machine: ${Os.cpus()[0]?.model ?? "unknown cpu"}, ${Os.cpus().length} cores ${
      Math.round(Os.totalmem() / 2 ** 30)
    } GiB RAM, ${Os.platform()} ${Os.release()}, Node ${process.version}`,
    `- database: ${postgres}, embedded, on a temporary folder with fsync off (as the tests run it)`,
    `- 1-minute load average before / after: ${loadBefore} / ${loadAverage()}`
  ].join("\n")

/** Replaces this benchmark's section of docs/benchmarks.md (between its markers), keeping the others. */
export const writeSection = (root: string, name: string, body: string) => {
  const file = Path.join(root, "docs", "benchmarks.md")
  const start = `<!-- bench:${name} -->`
  const end = `<!-- /bench:${name} -->`
  const current = Fs.existsSync(file)
    ? Fs.readFileSync(file, "utf8")
    : "# Benchmarks\n\nWritten by `pnpm bench` (each package's `bench` script rewrites its own section).\n"
  const section = `${start}\n${body.trim()}\n${end}`
  const from = current.indexOf(start)
  const to = current.indexOf(end)
  const next = from >= 0 && to > from
    ? current.slice(0, from) + section + current.slice(to + end.length)
    : `${current.trimEnd()}\n\n${section}\n`
  Fs.mkdirSync(Path.dirname(file), { recursive: true })
  Fs.writeFileSync(file, next)
}
