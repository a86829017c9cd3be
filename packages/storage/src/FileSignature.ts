/**
 * What a file is, from its first bytes (its "magic number"), whatever name and content type the
 * client claimed: the one place that knows file signatures. Each caller says which formats it
 * accepts, because some signatures are shared (an `ftyp` box starts both an m4a recording and an
 * mp4 video; only the accepted set says which one a file is taken for).
 */

export type Format = "png" | "jpeg" | "gif" | "webp" | "mp4" | "quicktime" | "webm" | "mp3" | "wav" | "m4a"
export type Kind = "image" | "video" | "audio"

export interface Detected<F extends Format = Format> {
  readonly kind: KindOf<F>
  readonly format: F
  /** The extension a stored file of this format gets. */
  readonly extension: string
}

/** How many leading bytes `detect` looks at; a file shorter than that is judged on what it has. */
export const SNIFF_BYTES = 64

const ascii = (bytes: Uint8Array, offset: number, text: string): boolean => {
  if (bytes.length < offset + text.length) return false
  for (let i = 0; i < text.length; i++) if (bytes[offset + i] !== text.charCodeAt(i)) return false
  return true
}

const startsWith = (bytes: Uint8Array, signature: ReadonlyArray<number>): boolean =>
  bytes.length >= signature.length && signature.every((byte, i) => bytes[i] === byte)

const contains = (bytes: Uint8Array, text: string): boolean => {
  for (let offset = 0; offset + text.length <= bytes.length; offset++) if (ascii(bytes, offset, text)) return true
  return false
}

const brand = (head: Uint8Array) => ascii(head, 4, "ftyp") ? String.fromCharCode(...head.subarray(8, 12)) : undefined

// ISO base media files (MP4, QuickTime) begin with a box: 4 bytes of size, then its type.
const QUICKTIME_BOXES = ["moov", "mdat", "wide", "free", "skip", "pnot"]

// Major brands of MP4 files that carry audio: iTunes audio/audiobook, generic MP4 v1/v2, ISO base
// media, and 3GPP. A video-only brand (`qt  `, `avc1`...) is not audio.
const AUDIO_BRANDS: ReadonlySet<string> = new Set(["M4A ", "M4B ", "M4P ", "mp41", "mp42", "isom", "iso2", "3gp4"])

interface Signature {
  readonly kind: Kind
  readonly extension: string
  readonly matches: (head: Uint8Array) => boolean
}

const signatures = {
  png: {
    kind: "image",
    extension: "png",
    matches: (head) => startsWith(head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
  },
  jpeg: { kind: "image", extension: "jpg", matches: (head) => startsWith(head, [0xff, 0xd8, 0xff]) },
  gif: { kind: "image", extension: "gif", matches: (head) => ascii(head, 0, "GIF87a") || ascii(head, 0, "GIF89a") },
  webp: { kind: "image", extension: "webp", matches: (head) => ascii(head, 0, "RIFF") && ascii(head, 8, "WEBP") },
  mp4: { kind: "video", extension: "mp4", matches: (head) => brand(head) !== undefined && brand(head) !== "qt  " },
  quicktime: {
    kind: "video",
    extension: "mov",
    matches: (head) => brand(head) === "qt  " || QUICKTIME_BOXES.some((box) => ascii(head, 4, box))
  },
  // EBML header; Matroska and WebM share it and differ in the DocType that follows.
  webm: {
    kind: "video",
    extension: "webm",
    matches: (head) => startsWith(head, [0x1a, 0x45, 0xdf, 0xa3]) && contains(head, "webm")
  },
  // An ID3v2 tag, or an MPEG audio frame sync with a valid version and layer.
  mp3: {
    kind: "audio",
    extension: "mp3",
    matches: (head) =>
      ascii(head, 0, "ID3") ||
      (head.length >= 2 && head[0] === 0xff && (head[1] & 0xe0) === 0xe0 && ((head[1] >> 3) & 0b11) !== 0b01 &&
        ((head[1] >> 1) & 0b11) !== 0b00)
  },
  wav: { kind: "audio", extension: "wav", matches: (head) => ascii(head, 0, "RIFF") && ascii(head, 8, "WAVE") },
  m4a: { kind: "audio", extension: "m4a", matches: (head) => AUDIO_BRANDS.has(brand(head) ?? "") }
} as const satisfies { readonly [F in Format]: Signature }

/** Images are images and videos videos, in the types too. */
export type KindOf<F extends Format> = (typeof signatures)[F]["kind"]

/** The first of `accepted` whose signature the leading bytes carry, or undefined. */
export const detect = <F extends Format>(head: Uint8Array, accepted: ReadonlyArray<F>): Detected<F> | undefined => {
  for (const format of accepted) {
    const signature: Signature = signatures[format]
    if (signature.matches(head)) {
      return { kind: signature.kind as KindOf<F>, format, extension: signature.extension }
    }
  }
  return undefined
}

/** Whether the leading bytes are what files of `format` start with. */
export const matches = (format: Format, head: Uint8Array): boolean => (signatures[format] as Signature).matches(head)

/** Keeps the first `SNIFF_BYTES` of a stream as its chunks go by. */
export const appendHead = (head: Uint8Array, chunk: Uint8Array): Uint8Array => {
  if (head.length >= SNIFF_BYTES) return head
  const next = new Uint8Array(Math.min(SNIFF_BYTES, head.length + chunk.length))
  next.set(head)
  next.set(chunk.subarray(0, next.length - head.length), head.length)
  return next
}
