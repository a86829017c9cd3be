/* eslint-disable no-control-regex -- the tests are about control characters */
import { assert, describe, it } from "@effect/vitest"
import { Either, FastCheck } from "effect"
import {
  canonicalMimeType,
  checkContentType,
  checkDeclared,
  checkMagic,
  checkSize,
  DEFAULT_MAX_AUDIO_BYTES,
  formatOfFilename,
  MIN_AUDIO_BYTES,
  sanitizeFilename
} from "../src/AudioValidation.js"
import { heads } from "./audio.js"

// No separators, no control or bidi characters, not ending in whitespace.
const isPrintableSegment = (stem: string) =>
  !/[/\\\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.test(stem) && /\S$/.test(stem)

const leftTag = <A, E extends { readonly _tag: string }>(result: Either.Either<A, E>) =>
  Either.isLeft(result) ? result.left._tag : "Right"

describe("AudioValidation", () => {
  it("accepts the three extensions, case-insensitively, and nothing else", () => {
    assert.strictEqual(Either.getOrThrow(formatOfFilename("session.mp3")), "mp3")
    assert.strictEqual(Either.getOrThrow(formatOfFilename("Session.WAV")), "wav")
    assert.strictEqual(Either.getOrThrow(formatOfFilename("a.b.M4a")), "m4a")
    for (const name of ["notes.txt", "session.mp3.exe", "mp3", ".mp3", "session.", "session.ogg", "session.mp4"]) {
      assert.strictEqual(leftTag(formatOfFilename(name)), "UnsupportedMediaType", name)
    }
  })

  it("accepts any declared audio/* type (and octet-stream, which declares nothing) and refuses the rest", () => {
    for (
      const type of [
        "audio/mpeg",
        "audio/x-wav",
        "audio/mp4; codecs=mp4a.40.2",
        "AUDIO/WAV",
        "application/octet-stream"
      ]
    ) {
      assert.isTrue(Either.isRight(checkContentType(type)), type)
    }
    for (const type of [undefined, "", "text/plain", "application/json", "video/mp4", "audio/"]) {
      assert.strictEqual(leftTag(checkContentType(type)), "UnsupportedMediaType", String(type))
    }
    // Only the essence counts, without blanks or case; the whole essence must be an audio type.
    assert.isTrue(Either.isRight(checkContentType("  Audio/MPEG ; charset=binary")))
    for (const type of ["audio/mpeg extra", "xaudio/mpeg", "video/audio/mpeg"]) {
      assert.strictEqual(leftTag(checkContentType(type)), "UnsupportedMediaType", type)
    }
    const message = (type: string | undefined) => Either.getOrThrow(Either.flip(checkContentType(type))).message
    assert.strictEqual(message(undefined), "Declared content type \"none\" is not an audio type")
    assert.strictEqual(message("Text/Plain; q=1"), "Declared content type \"text/plain\" is not an audio type")
  })

  it("checkMagic: the content must carry its extension's signature (the table is FileSignature's)", () => {
    assert.isTrue(Either.isRight(checkMagic("mp3", heads.mp3Id3)))
    assert.isTrue(Either.isRight(checkMagic("m4a", heads.m4aIsom)))
    assert.strictEqual(leftTag(checkMagic("mp3", heads.wav)), "UnsupportedMediaType")
    assert.strictEqual(leftTag(checkMagic("wav", heads.png)), "UnsupportedMediaType")
  })

  it("sizes: under 1 KiB is 400, over the maximum 413, the bounds themselves pass", () => {
    assert.isTrue(Either.isRight(checkSize(MIN_AUDIO_BYTES, DEFAULT_MAX_AUDIO_BYTES)))
    assert.isTrue(Either.isRight(checkSize(DEFAULT_MAX_AUDIO_BYTES, DEFAULT_MAX_AUDIO_BYTES)))
    assert.strictEqual(leftTag(checkSize(MIN_AUDIO_BYTES - 1, DEFAULT_MAX_AUDIO_BYTES)), "FileTooSmall")
    assert.strictEqual(leftTag(checkSize(0, DEFAULT_MAX_AUDIO_BYTES)), "FileTooSmall")
    assert.strictEqual(leftTag(checkSize(DEFAULT_MAX_AUDIO_BYTES + 1, DEFAULT_MAX_AUDIO_BYTES)), "PayloadTooLarge")
    assert.strictEqual(DEFAULT_MAX_AUDIO_BYTES, 200 * 1024 * 1024)
  })

  it("declared checks: missing file part 400, wrong extension or type 415, canonical MIME kept", () => {
    assert.strictEqual(leftTag(checkDeclared(undefined)), "MissingField")
    assert.strictEqual(leftTag(checkDeclared({ name: "  ", contentType: "audio/mpeg" })), "MissingField")
    assert.strictEqual(leftTag(checkDeclared({ name: "a.txt", contentType: "audio/mpeg" })), "UnsupportedMediaType")
    assert.strictEqual(leftTag(checkDeclared({ name: "a.mp3", contentType: "text/plain" })), "UnsupportedMediaType")
    const ok = Either.getOrThrow(checkDeclared({ name: "C:\\Users\\me\\Session 1.M4A", contentType: "audio/x-m4a" }))
    assert.deepStrictEqual(ok, { format: "m4a", originalFilename: "Session 1.M4A", mimeType: canonicalMimeType.m4a })
  })

  it("filenames: path traversal, control characters and SQL stay inert text", () => {
    assert.strictEqual(sanitizeFilename("../../etc/passwd.mp3"), "passwd.mp3")
    assert.strictEqual(sanitizeFilename("..\\..\\windows\\system32\\a.wav"), "a.wav")
    assert.strictEqual(sanitizeFilename("evil\u0000name\r\n.mp3"), "evilname.mp3")
    assert.strictEqual(sanitizeFilename("\u202Egnp.mp3"), "gnp.mp3")
    assert.strictEqual(sanitizeFilename("'; DROP TABLE recordings; --.mp3"), "'; DROP TABLE recordings; --.mp3")
    assert.strictEqual(sanitizeFilename("<img src=x onerror=alert(1)>.mp3"), "<img src=x onerror=alert(1)>.mp3")
    assert.strictEqual(sanitizeFilename("séance à 9h 🎧.mp3"), "séance à 9h 🎧.mp3")
    assert.strictEqual(sanitizeFilename(".."), "recording")
    assert.strictEqual(sanitizeFilename("  session.mp3\t"), "session.mp3")
    assert.strictEqual(sanitizeFilename("se\u0301ance.mp3"), "s\u00e9ance.mp3")
    assert.strictEqual(sanitizeFilename("a/"), "recording")
    assert.strictEqual(Array.from(sanitizeFilename("x".repeat(1000) + ".mp3")).length, 255)
    assert.isTrue(sanitizeFilename("x".repeat(1000) + ".mp3").endsWith(".mp3"))
  })

  it.prop(
    "any filename sanitises to one short printable segment, and keeps its accepted extension",
    [FastCheck.oneof(
      FastCheck.string({ unit: "binary", maxLength: 400 }),
      FastCheck.array(
        FastCheck.constantFrom("..", "/", "\\", ".", "\u0000", "\n", "'", "\"", ";", "%2e", "a", "é", "🎧", " "),
        { maxLength: 60 }
      ).map((parts) => parts.join("")),
      FastCheck.tuple(FastCheck.string({ maxLength: 50 }), FastCheck.constantFrom(".mp3", ".wav", ".m4a", ".MP3"))
        .map(([stem, ext]) => stem + ext)
    )],
    ([raw]) => {
      const name = sanitizeFilename(raw)
      assert.isTrue(name.length > 0)
      assert.isAtMost(Array.from(name).length, 255)
      assert.notInclude(name, "/")
      assert.notInclude(name, "\\")
      assert.notMatch(name, /[\u0000-\u001f\u007f]/)
      assert.notStrictEqual(name, "..")
      assert.notStrictEqual(name, ".")
      assert.strictEqual(sanitizeFilename(name), name)
      const format = formatOfFilename(raw)
      assert.strictEqual(Either.isRight(format), /^[^]+\.(mp3|wav|m4a)$/i.test(name), raw)
      if (Either.isRight(format)) assert.isTrue(name.toLowerCase().endsWith(`.${format.right}`))
    },
    { fastCheck: { numRuns: 500 } }
  )

  it.prop(
    "a printable name with an audio extension is always accepted, whatever its stem",
    [
      FastCheck.string({ minLength: 1, maxLength: 100 }).filter(isPrintableSegment),
      FastCheck.constantFrom(".mp3", ".wav", ".m4a", ".MP3", ".Wav")
    ],
    ([stem, ext]) => {
      const format = Either.getOrThrow(formatOfFilename(stem + ext))
      assert.strictEqual(`.${format}`, ext.toLowerCase())
      assert.isTrue(sanitizeFilename(stem + ext).endsWith(ext))
    },
    { fastCheck: { numRuns: 300 } }
  )
})
