// Prints what `scripts/test-cpu-setup.ts` recorded: totals, then the test files that spent the most
// CPU (their own worker's and their child processes'). `node scripts/test-cpu-report.mjs file [top]`.
import * as Fs from "node:fs"
import * as Path from "node:path"
import { argv, stdout } from "node:process"

const [file, topArg] = argv.slice(2)
const top = Number(topArg ?? 20)
const root = Path.resolve(import.meta.dirname, "..")
const rows = Fs.readFileSync(file, "utf8").trim().split("\n").map((line) => JSON.parse(line))
const seconds = (ms) => (ms / 1000).toFixed(1)
const sum = (key) => rows.reduce((total, row) => total + row[key], 0)

const totals = [
  `${rows.length} test files: wall ${seconds(sum("wallMs"))} s summed`,
  `worker CPU ${seconds(sum("cpuMs"))} s`,
  `child processes' CPU ${seconds(sum("childrenMs"))} s`
]
const lines = [totals.join(", "), "| file | wall s | worker CPU s | children CPU s |", "| --- | ---: | ---: | ---: |"]
for (const row of rows.sort((a, b) => b.cpuMs + b.childrenMs - a.cpuMs - a.childrenMs).slice(0, top)) {
  const cells = [Path.relative(root, row.file), seconds(row.wallMs), seconds(row.cpuMs), seconds(row.childrenMs)]
  lines.push(`| ${cells.join(" | ")} |`)
}
stdout.write(`${lines.join("\n")}\n`)
