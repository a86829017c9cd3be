// Merges every package's `coverage/coverage-final.json` (written by its `coverage` script) into
// one coverage map and prints one text table over the whole workspace, files grouped by package.
// Each package is measured by its own tests only: code a package merely reaches through a
// dependant's tests does not count for it.
import libCoverage from "istanbul-lib-coverage"
import libReport from "istanbul-lib-report"
import reports from "istanbul-reports"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { argv, exit, stderr, stdout } from "node:process"

const root = Path.resolve(import.meta.dirname, "..")
const map = libCoverage.createCoverageMap({})
const found = []
for (const group of ["packages", "apps"]) {
  for (const name of Fs.readdirSync(Path.join(root, group)).sort()) {
    const file = Path.join(root, group, name, "coverage", "coverage-final.json")
    if (!Fs.existsSync(file)) continue
    found.push(`${group}/${name}`)
    map.merge(JSON.parse(Fs.readFileSync(file, "utf8")))
  }
}
if (found.length === 0) {
  stderr.write("no coverage/coverage-final.json found: run each package's `coverage` script first\n")
  exit(1)
}
const context = libReport.createContext({
  dir: Path.join(root, "coverage"),
  coverageMap: map,
  defaultSummarizer: "nested"
})
const summary = argv.includes("--summary")
reports.create(summary ? "text-summary" : "text", summary ? {} : { skipFull: false, maxCols: 120 }).execute(context)
if (!summary) reports.create("text-summary").execute(context)
stdout.write(`\n${found.length} packages: ${found.join(", ")}\n`)
