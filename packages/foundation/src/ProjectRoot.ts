import * as Fs from "node:fs"
import * as Path from "node:path"

/** The folder that holds `pnpm-workspace.yaml`, so that every app finds the same data folders. */
export const projectRoot = (from: string = process.cwd()): string => {
  let dir = Path.resolve(from)
  while (true) {
    if (Fs.existsSync(Path.join(dir, "pnpm-workspace.yaml"))) return dir
    const parent = Path.dirname(dir)
    if (parent === dir) return Path.resolve(from)
    dir = parent
  }
}
