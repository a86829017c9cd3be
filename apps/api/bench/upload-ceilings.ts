/**
 * The ceilings under `POST /recordings` (recordings-upload.bench.ts), each stage alone on the same
 * bytes in one process, no HTTP server: SHA-256 (`node:crypto`), multipasta parsing a multipart body
 * of the file, and a plain `fs` write stream with one fsync. Prints seconds and MiB/s per stage.
 *
 *   pnpm exec tsx bench/upload-ceilings.ts /path/to/1GiB.file [out dir on the same disk as the store]
 */
import { make as makeParser } from "multipasta"
import * as MP from "multipasta/node"
import { createHash } from "node:crypto"
import * as Fs from "node:fs"
import * as FsP from "node:fs/promises"
import * as Path from "node:path"

const MIB = 1024 * 1024
const [file, outDir = Path.dirname(file ?? ".")] = process.argv.slice(2)
if (file === undefined) throw new Error("usage: upload-ceilings.ts FILE [OUT_DIR]")
const data = Fs.readFileSync(file)
const size = data.length
/** The file as `size`-byte slices (views, no copies), as a socket or parser would hand them on. */
const slices = (bytes: Uint8Array, chunk: number) => {
  const out: Array<Uint8Array> = []
  for (let i = 0; i < bytes.length; i += chunk) out.push(bytes.subarray(i, Math.min(bytes.length, i + chunk)))
  return out
}
const report = (name: string, seconds: number, bytes = size) =>
  console.log(`${name.padEnd(58)} ${seconds.toFixed(3)} s  ${(bytes / MIB / seconds).toFixed(0).padStart(5)} MiB/s`)
const time = async (name: string, run: () => unknown) => {
  const start = performance.now()
  await run()
  report(name, (performance.now() - start) / 1000)
}

const boundary = "----clinic-ceiling-boundary"
const head = Buffer.from(
  `--${boundary}\r\nContent-Disposition: form-data; name="patientId"\r\n\r\n00000000-0000-4000-8000-000000000000\r\n` +
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="session.mp3"\r\n` +
    `Content-Type: audio/mpeg\r\n\r\n`
)
const tail = Buffer.from(`\r\n--${boundary}--\r\n`)
const headers = { "content-type": `multipart/form-data; boundary=${boundary}` }

const main = async () => {
  console.log(`${file}: ${size / MIB} MiB`)
  for (const chunk of [64 * 1024, MIB]) {
    const parts = slices(data, chunk)
    await time(`sha256 in memory, ${chunk / 1024} KiB updates`, () => {
      const hash = createHash("sha256")
      for (const part of parts) hash.update(part)
      hash.digest("hex")
    })
  }
  await time("sha256 of the file read by createReadStream (64 KiB)", () =>
    new Promise<void>((resolve, reject) => {
      const hash = createHash("sha256")
      Fs.createReadStream(file).on("data", (c) => hash.update(c)).on("end", () => resolve()).on("error", reject)
    }))

  for (const chunk of [64 * 1024, MIB]) {
    const parts = [head, ...slices(data, chunk), tail]
    await time(`multipasta core parse, ${chunk / 1024} KiB writes`, () =>
      new Promise<void>((resolve, reject) => {
        let seen = 0
        const parser = makeParser({
          headers,
          onField: () => {},
          onFile: () => (c) => {
            if (c !== null) seen += c.length
          },
          onError: (e) => reject(new Error(e._tag)),
          onDone: () => seen === size ? resolve() : reject(new Error(`parsed ${seen}`))
        })
        for (const part of parts) parser.write(part)
        parser.end()
      }))
    await time(
      `multipasta/node stream + file part read, ${chunk / 1024} KiB`,
      () =>
        new Promise<void>((resolve, reject) => {
          let seen = 0
          const parser = MP.make({ headers })
          parser.on("file", (f: MP.FileStream) => f.on("data", (c: Buffer) => seen += c.length))
          parser.on("error", reject)
          parser.on("finish", () => setImmediate(() => seen === size ? resolve() : reject(new Error(`parsed ${seen}`))))
          parser.on("data", () => {})
          let i = 0
          const pump = () => {
            while (i < parts.length) {
              if (!parser.write(parts[i++]!)) return parser.once("drain", pump)
            }
            parser.end()
          }
          pump()
        })
    )
  }

  for (const chunk of [64 * 1024, MIB]) {
    const parts = slices(data, chunk)
    const target = Path.join(outDir, `.ceiling-${process.pid}.part`)
    const handle = await FsP.open(target, "wx")
    const stream = Fs.createWriteStream(target, { fd: handle, highWaterMark: 8 * MIB, flush: true })
    let finished = 0
    const writeStart = performance.now()
    await new Promise<void>((resolve, reject) => {
      stream.on("error", reject)
      stream.on("finish", () => finished = performance.now())
      stream.on("close", () => resolve())
      let i = 0
      const pump = () => {
        while (i < parts.length) {
          if (!stream.write(parts[i++]!)) return stream.once("drain", pump)
        }
        stream.end()
      }
      pump()
    })
    const closed = performance.now()
    report(`fs write stream (8 MiB buffer), ${chunk / 1024} KiB writes: writes`, (finished - writeStart) / 1000)
    report(`  ... fsync + close`, (closed - finished) / 1000)
    report(`  ... writes + fsync`, (closed - writeStart) / 1000)
    await FsP.rm(target)
  }
}

main().then(() => process.exit(0), (error) => {
  console.error(error)
  process.exit(1)
})
