import type { AudioFormat } from "@clinic/domain"

const bytes = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0))

/** The leading bytes real files of each kind start with. */
export const heads = {
  mp3Id3: Uint8Array.of(...bytes("ID3"), 4, 0, 0, 0, 0, 0x0f, 0x76, 0, 0),
  mp3FrameSync: Uint8Array.of(0xff, 0xfb, 0x90, 0x64, 0, 0, 0, 0, 0, 0, 0, 0),
  wav: Uint8Array.of(...bytes("RIFF"), 0x24, 0x08, 0, 0, ...bytes("WAVE")),
  m4a: Uint8Array.of(0, 0, 0, 0x20, ...bytes("ftypM4A ")),
  m4aMp42: Uint8Array.of(0, 0, 0, 0x18, ...bytes("ftypmp42")),
  m4aIsom: Uint8Array.of(0, 0, 0, 0x1c, ...bytes("ftypisom")),
  png: Uint8Array.of(0x89, ...bytes("PNG\r\n"), 0x1a, 0x0a, 0, 0, 0, 0x0d),
  text: bytes("hello, this is not audio at all")
} as const

export const headOf: { readonly [F in AudioFormat]: Uint8Array } = {
  mp3: heads.mp3Id3,
  wav: heads.wav,
  m4a: heads.m4a
}

/** `size` bytes starting with `head`, the rest a deterministic pattern. */
export const audioBytes = (head: Uint8Array, size: number): Uint8Array => {
  const out = new Uint8Array(size)
  for (let i = 0; i < size; i++) out[i] = (i * 31 + 7) & 0xff
  out.set(head.subarray(0, Math.min(head.length, size)))
  return out
}

/** Splits bytes into chunks of `size` (the last may be shorter). */
export const chunked = (data: Uint8Array, size: number): Array<Uint8Array> => {
  const chunks: Array<Uint8Array> = []
  for (let i = 0; i < data.length; i += size) chunks.push(data.subarray(i, i + size))
  return chunks
}
