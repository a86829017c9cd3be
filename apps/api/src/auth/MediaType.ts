import type { MediaFormat, MediaKind } from "@clinic/domain"

export interface DetectedMedia {
  readonly kind: MediaKind
  readonly format: MediaFormat
  /** The extension the stored file gets. */
  readonly extension: string
}

/** How many leading bytes `detect` looks at; fewer is fine for a file that short. */
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

// ISO base media files (MP4, QuickTime) begin with a box: 4 bytes of size, then its type.
const QUICKTIME_BOXES = ["moov", "mdat", "wide", "free", "skip", "pnot"]

/**
 * The type of a file from its first bytes (its "magic number"), ignoring whatever name and content
 * type the client claimed. Undefined for anything but the images and videos we accept.
 */
export const detect = (head: Uint8Array): DetectedMedia | undefined => {
  if (startsWith(head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) {
    return { kind: "image", format: "png", extension: "png" }
  }
  if (startsWith(head, [0xff, 0xd8, 0xff])) return { kind: "image", format: "jpeg", extension: "jpg" }
  if (ascii(head, 0, "GIF87a") || ascii(head, 0, "GIF89a")) return { kind: "image", format: "gif", extension: "gif" }
  if (ascii(head, 0, "RIFF") && ascii(head, 8, "WEBP")) return { kind: "image", format: "webp", extension: "webp" }
  if (ascii(head, 4, "ftyp")) {
    return ascii(head, 8, "qt  ")
      ? { kind: "video", format: "quicktime", extension: "mov" }
      : { kind: "video", format: "mp4", extension: "mp4" }
  }
  if (QUICKTIME_BOXES.some((box) => ascii(head, 4, box))) {
    return { kind: "video", format: "quicktime", extension: "mov" }
  }
  // EBML header; Matroska and WebM share it and differ in the DocType that follows.
  if (startsWith(head, [0x1a, 0x45, 0xdf, 0xa3]) && contains(head, "webm")) {
    return { kind: "video", format: "webm", extension: "webm" }
  }
  return undefined
}
