// Prints one mutation score per package from the JSON report each package's `mutation` script
// (StrykerJS) writes to reports/mutation/mutation.json; `--markdown` prints the README's table.
// Score as Stryker counts it: detected (killed or timed out) over all valid mutants (detected,
// survived, no coverage); ignored mutants and those that did not compile are not counted.
import * as Fs from "node:fs"
import * as Path from "node:path"
import { argv, exit, stderr, stdout } from "node:process"

const root = Path.resolve(import.meta.dirname, "..")
const rows = []
for (const group of ["packages", "apps"]) {
  for (const name of Fs.readdirSync(Path.join(root, group)).sort()) {
    const dir = Path.join(root, group, name)
    if (!Fs.existsSync(Path.join(dir, "stryker.config.mjs"))) continue
    const file = Path.join(dir, "reports", "mutation", "mutation.json")
    if (!Fs.existsSync(file)) {
      rows.push({ name: `${group}/${name}`, missing: true })
      continue
    }
    const count = { Killed: 0, Survived: 0, Timeout: 0, NoCoverage: 0, Ignored: 0 }
    for (const source of Object.values(JSON.parse(Fs.readFileSync(file, "utf8")).files)) {
      for (const mutant of source.mutants) count[mutant.status] = (count[mutant.status] ?? 0) + 1
    }
    const detected = count.Killed + count.Timeout
    const valid = detected + count.Survived + count.NoCoverage
    rows.push({
      name: `${group}/${name}`,
      mutants: valid,
      killed: count.Killed,
      survived: count.Survived,
      timeout: count.Timeout,
      noCoverage: count.NoCoverage,
      ignored: count.Ignored,
      score: valid === 0 ? "n/a" : `${(100 * detected / valid).toFixed(1)}%`
    })
  }
}
const columns = ["package", "mutants", "killed", "survived", "timeout", "no coverage", "ignored", "score"]
const cells = (row) =>
  row.missing
    ? [row.name, "no report", "", "", "", "", "", ""]
    : [row.name, row.mutants, row.killed, row.survived, row.timeout, row.noCoverage, row.ignored, row.score].map(String)
if (argv.includes("--markdown")) {
  stdout.write(`| ${columns.join(" | ")} |\n|${columns.map(() => " --- ").join("|")}|\n`)
  for (const row of rows) stdout.write(`| ${cells(row).join(" | ")} |\n`)
} else {
  const table = [columns, ...rows.map(cells)]
  const widths = columns.map((_, i) => Math.max(...table.map((line) => line[i].length)))
  for (const line of table) stdout.write(`${line.map((cell, i) => cell.padEnd(widths[i])).join("  ")}\n`)
}
if (rows.length === 0 || rows.some((row) => row.missing)) {
  stderr.write("some packages have no report: run `pnpm mutation`\n")
  exit(1)
}
