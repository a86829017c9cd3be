import { makeCursor, Pagination } from "@clinic/domain"
import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Encoding, Layer, Redacted, Schema } from "effect"
import { audioBytes, heads } from "../../../packages/recordings/test/audio.js"
import { get, memoryServer, postgresServer, upload } from "./support/TestApi.js"
import { at, startClock, therapistWithPatient } from "./support/TestApi.js"

const slot = (fromMinutes: number) => ({
  startsAt: at(Duration.minutes(24 * 60 + fromMinutes)),
  endsAt: at(Duration.minutes(24 * 60 + fromMinutes + 50))
})
const mp3 = { name: "session.mp3", type: "audio/mpeg", bytes: audioBytes(heads.mp3Id3, 4096) }

/** Three rows in each list of one therapist. */
const threeOfEach = Effect.gen(function*() {
  yield* startClock
  const { client, patient, user } = yield* therapistWithPatient
  yield* client.patients.create({ payload: { name: "Sam" } })
  yield* client.patients.create({ payload: { name: "Kim" } })
  for (let i = 0; i < 3; i++) {
    yield* client.bookings.create({ headers: {}, payload: { patientId: patient.id, ...slot(i * 60) } })
    const res = yield* upload(user.id, [["patientId", patient.id], ["file", mp3]])
    assert.strictEqual(res.status, 201, JSON.stringify(res.body))
  }
  return user
})

/** Cursors a client might send that this server never issued, each made from a real one. */
const forgeries = (real: string) =>
  Effect.gen(function*() {
    const [payload, mac] = real.split(".")
    const position = JSON.parse(Encoding.decodeBase64UrlString(payload).pipe((e) => e._tag === "Right" ? e.right : ""))
    const keys = Object.keys(position)
    // The same position with its keys in the other order: equal in meaning, different bytes.
    const reordered = Encoding.encodeBase64Url(
      JSON.stringify(Object.fromEntries(keys.reverse().map((k) => [k, position[k]])))
    )
    const moved = Encoding.encodeBase64Url(JSON.stringify({ ...position, id: crypto.randomUUID() }))
    const foreign = yield* makeCursor(Schema.Unknown).encode(position).pipe(
      Effect.provide(Pagination.layer(Redacted.make("another installation")))
    )
    return [
      ["garbage", "not-a-cursor"],
      ["the position alone, unsigned", payload],
      ["the position re-encoded with the real mac", `${reordered}.${mac}`],
      ["another position with the real mac", `${moved}.${mac}`],
      ["the real mac padded", `${real}=`],
      ["another installation's cursor", foreign],
      ["SQL", "1' OR '1'='1"]
    ] as const
  })

const eachList = Effect.gen(function*() {
  const user = yield* threeOfEach
  for (const list of ["/patients", "/bookings", "/recordings"]) {
    const first = yield* get(user.id, `${list}?limit=2`)
    assert.strictEqual(first.status, 200, `${list}: ${JSON.stringify(first.body)}`)
    assert.strictEqual(first.body.items.length, 2, list)
    const real: string = first.body.nextCursor
    const next = yield* get(user.id, `${list}?limit=2&cursor=${encodeURIComponent(real)}`)
    assert.deepStrictEqual([next.status, next.body.items.length, next.body.nextCursor], [200, 1, null], list)
    for (const [name, cursor] of yield* forgeries(real)) {
      const refused = yield* get(user.id, `${list}?limit=2&cursor=${encodeURIComponent(cursor)}`)
      assert.deepStrictEqual([refused.status, refused.body._tag], [400, "InvalidCursor"], `${list}: ${name}`)
    }
  }
})

describe("cursors over HTTP: one Pagination for every list", () => {
  it.effect("memory: each list pages with its own cursor and refuses any it did not issue", () =>
    eachList.pipe(Effect.provide(Layer.merge(memoryServer(), NodeFileSystem.layer))))

  it.effect("postgres: each list pages with its own cursor and refuses any it did not issue", () =>
    eachList.pipe(Effect.provide(Layer.merge(postgresServer(), NodeFileSystem.layer))))
})
