import { assert, describe, it } from "@effect/vitest"
import { detect } from "../src/auth/MediaType.js"

const bytes = (...parts: ReadonlyArray<string | ReadonlyArray<number>>) =>
  Uint8Array.from(parts.flatMap((part) => typeof part === "string" ? [...part].map((c) => c.charCodeAt(0)) : part))

describe("MediaType.detect", () => {
  it("recognises the accepted images and videos by their magic bytes", () => {
    const cases: ReadonlyArray<[Uint8Array, string | undefined]> = [
      [bytes([0x89], "PNG", [0x0d, 0x0a, 0x1a, 0x0a, 0, 0]), "png"],
      [bytes([0xff, 0xd8, 0xff, 0xe0], "JFIF"), "jpeg"],
      [bytes("GIF89a", [1, 0]), "gif"],
      [bytes("GIF87a"), "gif"],
      [bytes("RIFF", [0, 0, 0, 0], "WEBPVP8 "), "webp"],
      [bytes([0, 0, 0, 0x20], "ftypisom", [0, 0, 2, 0]), "mp4"],
      [bytes([0, 0, 0, 0x14], "ftypqt  "), "quicktime"],
      [bytes([0, 0, 0, 8], "wide"), "quicktime"],
      [bytes([0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 0x01, 0x42, 0x82, 0x84], "webm"), "webm"],
      // Matroska that is not WebM, RIFF that is not WebP, text, a truncated PNG, nothing.
      [bytes([0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x82, 0x88], "matroska"), undefined],
      [bytes("RIFF", [0, 0, 0, 0], "WAVEfmt "), undefined],
      [bytes("<?xml version=\"1.0\"?><svg/>"), undefined],
      [bytes([0x89], "PN"), undefined],
      [new Uint8Array(0), undefined]
    ]
    for (const [head, format] of cases) assert.strictEqual(detect(head)?.format, format, String(head))
    assert.deepStrictEqual(detect(bytes([0xff, 0xd8, 0xff])), { kind: "image", format: "jpeg", extension: "jpg" })
    assert.strictEqual(detect(bytes([0, 0, 0, 0x20], "ftypmp42"))?.kind, "video")
  })
})
