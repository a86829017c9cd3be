import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Encoding, Redacted, Schema } from "effect"
import { makeCursor, Pagination, toPage } from "../src/Pagination.js"

const T0 = DateTime.unsafeMake("2026-03-02T09:00:00.000Z")
const position = Schema.Struct({ createdAt: Schema.DateTimeUtc, id: Schema.String })
const cursor = makeCursor(position)
const ours = Pagination.layer(Redacted.make("one installation's secret"))
const theirs = Pagination.layer(Redacted.make("another installation's secret"))

describe("Pagination", () => {
  it.effect("a cursor this server sealed opens to the position it carries", () =>
    Effect.gen(function*() {
      const sealed = yield* cursor.encode({ createdAt: T0, id: "p-1" })
      assert.match(sealed, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/)
      const opened = yield* cursor.decode(sealed)
      assert.strictEqual(opened?.id, "p-1")
      assert.strictEqual(opened?.createdAt.epochMillis, T0.epochMillis)
      assert.strictEqual(yield* cursor.decode(undefined), undefined)
    }).pipe(Effect.provide(ours)))

  it.effect("refused: garbage, an edited or re-encoded position, a bare position, another secret's cursor", () =>
    Effect.gen(function*() {
      const sealed = yield* cursor.encode({ createdAt: T0, id: "p-1" })
      const [payload, mac] = sealed.split(".")
      const forged = Encoding.encodeBase64Url(JSON.stringify({ createdAt: "2020-01-01T00:00:00.000Z", id: "p-9" }))
      // The same JSON with its key order changed: equal in meaning, not in bytes.
      const reordered = Encoding.encodeBase64Url(JSON.stringify({ id: "p-1", createdAt: "2026-03-02T09:00:00.000Z" }))
      const foreign = yield* cursor.encode({ createdAt: T0, id: "p-1" }).pipe(Effect.provide(theirs))
      const cases: ReadonlyArray<readonly [string, string]> = [
        ["garbage", "not a cursor"],
        ["empty mac", `${payload}.`],
        ["no mac", payload],
        ["forged position with the old mac", `${forged}.${mac}`],
        ["re-encoded position with the old mac", `${reordered}.${mac}`],
        ["mac in another alphabet", `${payload}.${mac}=`],
        ["another installation's cursor", foreign],
        ["SQL", "'; DROP TABLE patients; --"]
      ]
      for (const [name, bad] of cases) {
        const refused = yield* Effect.flip(cursor.decode(bad))
        assert.strictEqual(refused._tag, "InvalidCursor", name)
      }
    }).pipe(Effect.provide(ours)))

  it.effect("toPage: the extra row says another page exists; its cursor is the last item's", () =>
    Effect.gen(function*() {
      const rows = ["a", "b", "c"]
      assert.deepStrictEqual(yield* toPage(rows, 2, (last) => Effect.succeed(`after:${last}`)), {
        items: ["a", "b"],
        nextCursor: "after:b"
      })
      assert.deepStrictEqual(yield* toPage(rows, 3, (last) => Effect.succeed(`after:${last}`)), {
        items: rows,
        nextCursor: null
      })
    }))
})
