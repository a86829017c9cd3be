import { assert, describe, it } from "@effect/vitest"
import { appendHead, detect, type Format, matches, SNIFF_BYTES } from "../src/FileSignature.js"

const bytes = (...parts: ReadonlyArray<string | ReadonlyArray<number>>) =>
  Uint8Array.from(parts.flatMap((part) => typeof part === "string" ? [...part].map((c) => c.charCodeAt(0)) : part))

const MEDIA = ["png", "jpeg", "gif", "webp", "mp4", "quicktime", "webm"] as const
const AUDIO = ["mp3", "wav", "m4a"] as const

const heads = {
  mp3Id3: bytes("ID3", [4, 0, 0, 0, 0, 0x0f, 0x76, 0, 0]),
  mp3FrameSync: bytes([0xff, 0xfb, 0x90, 0x64, 0, 0, 0, 0, 0, 0, 0, 0]),
  wav: bytes("RIFF", [0x24, 0x08, 0, 0], "WAVE"),
  m4a: bytes([0, 0, 0, 0x20], "ftypM4A "),
  m4aMp42: bytes([0, 0, 0, 0x18], "ftypmp42"),
  m4aIsom: bytes([0, 0, 0, 0x1c], "ftypisom"),
  png: bytes([0x89], "PNG", [0x0d, 0x0a, 0x1a, 0x0a, 0, 0]),
  text: bytes("hello, this is not audio at all")
}

describe("FileSignature", () => {
  it("recognises the accepted images and videos by their magic bytes", () => {
    const cases: ReadonlyArray<[Uint8Array, string | undefined]> = [
      [heads.png, "png"],
      [bytes([0xff, 0xd8, 0xff, 0xe0], "JFIF"), "jpeg"],
      [bytes("GIF89a", [1, 0]), "gif"],
      [bytes("GIF87a"), "gif"],
      [bytes("RIFF", [0, 0, 0, 0], "WEBPVP8 "), "webp"],
      [bytes([0, 0, 0, 0x20], "ftypisom", [0, 0, 2, 0]), "mp4"],
      [bytes([0, 0, 0, 0x14], "ftypqt  "), "quicktime"],
      [bytes([0, 0, 0, 8], "wide"), "quicktime"],
      [bytes([0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 0x01, 0x42, 0x82, 0x84], "webm"), "webm"],
      // Matroska that is not WebM, RIFF that is not WebP, text, a truncated PNG, audio, nothing.
      [bytes([0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x82, 0x88], "matroska"), undefined],
      [heads.wav, undefined],
      [heads.mp3Id3, undefined],
      [bytes("<?xml version=\"1.0\"?><svg/>"), undefined],
      [bytes([0x89], "PN"), undefined],
      [new Uint8Array(0), undefined]
    ]
    for (const [head, format] of cases) assert.strictEqual(detect(head, MEDIA)?.format, format, String(head))
    assert.deepStrictEqual(detect(bytes([0xff, 0xd8, 0xff]), MEDIA), {
      kind: "image",
      format: "jpeg",
      extension: "jpg"
    })
    assert.strictEqual(detect(bytes([0, 0, 0, 0x20], "ftypmp42"), MEDIA)?.kind, "video")
  })

  it("recognises the accepted audio: ID3 or MPEG frame sync, RIFF WAVE, ftyp with an audio brand", () => {
    const cases: ReadonlyArray<[Uint8Array, string | undefined]> = [
      [heads.mp3Id3, "mp3"],
      [heads.mp3FrameSync, "mp3"],
      [heads.wav, "wav"],
      [heads.m4a, "m4a"],
      [heads.m4aMp42, "m4a"],
      [heads.m4aIsom, "m4a"],
      [heads.png, undefined],
      [heads.text, undefined],
      // RIFF of another kind (AVI) is not WAVE; an ftyp box with a video brand is not m4a.
      [bytes("RIFF", [0x24, 0x08, 0, 0], "AVI "), undefined],
      [bytes([0, 0, 0, 0x20], "ftypqt  "), undefined],
      // Frame sync with the reserved layer (00 is AAC ADTS, not MPEG audio layer I-III).
      [bytes([0xff, 0xf1, 0x50, 0x80, 0, 0, 0, 0, 0, 0, 0, 0]), undefined],
      // A truncated ID3 tag.
      [bytes("ID"), undefined]
    ]
    for (const [head, format] of cases) assert.strictEqual(detect(head, AUDIO)?.format, format, String(head))
  })

  it("a shared signature is taken for the format the caller accepts", () => {
    // An `ftyp isom` box starts both an mp4 video and an m4a recording.
    assert.strictEqual(detect(heads.m4aIsom, MEDIA)?.format, "mp4")
    assert.strictEqual(detect(heads.m4aIsom, AUDIO)?.format, "m4a")
    const declared: ReadonlyArray<[Format, Uint8Array, boolean]> = [
      ["mp3", heads.wav, false],
      ["wav", heads.mp3Id3, false],
      ["m4a", heads.wav, false],
      ["mp3", heads.png, false],
      ["m4a", heads.m4aMp42, true],
      ["png", heads.png, true]
    ]
    for (const [format, head, expected] of declared) assert.strictEqual(matches(format, head), expected, format)
  })

  it("appendHead keeps the first SNIFF_BYTES of a stream, however it is chunked", () => {
    const all = Uint8Array.from({ length: 200 }, (_, i) => i)
    let head: Uint8Array = new Uint8Array(0)
    for (let i = 0; i < all.length; i += 7) head = appendHead(head, all.subarray(i, i + 7))
    assert.deepStrictEqual([...head], [...all.subarray(0, SNIFF_BYTES)])
  })
})
