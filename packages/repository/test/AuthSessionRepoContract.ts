import { assert, describe, it } from "@effect/vitest"
import { DateTime, Duration, Effect, type Layer, Option, TestClock } from "effect"
import { AuthSessionRepo, SessionSelector } from "../src/AuthSessionRepo.js"
import type { UserRepo } from "../src/UserRepo.js"
import { at, makeTherapist, startClock, T0 } from "./fixtures.js"

/** The behaviour every `AuthSessionRepo` shares, whatever stores it. */
export const authSessionRepoContract = (name: string, layer: Layer.Layer<AuthSessionRepo | UserRepo>) =>
  describe(`AuthSessionRepo (${name})`, () => {
    const session = (userId: Parameters<AuthSessionRepo["Type"]["insert"]>[0]["userId"], expiresIn: string) =>
      Effect.flatMap(AuthSessionRepo, (repo) =>
        repo.insert({
          userId,
          tokenHash: crypto.randomUUID(),
          expiresAt: DateTime.addDuration(T0, Duration.decode(expiresIn as Duration.DurationInput)),
          userAgent: "vitest",
          ip: "127.0.0.1"
        }))

    it.effect("stores a session and finds it by id, and by token hash with its user", () =>
      Effect.gen(function*() {
        yield* startClock
        const repo = yield* AuthSessionRepo
        const user = yield* makeTherapist()
        const created = yield* session(user.id, "30 days")
        assert.isTrue(DateTime.Equivalence(created.createdAt, T0))
        assert.isTrue(DateTime.Equivalence(created.lastActiveAt, T0))
        assert.strictEqual((yield* repo.findById(created.id)).tokenHash, created.tokenHash)
        const byHash = Option.getOrThrow(yield* repo.findByTokenHash(created.tokenHash))
        assert.deepStrictEqual(byHash.session, created)
        assert.deepStrictEqual(byHash.user, user)
        assert.isTrue(Option.isNone(yield* repo.findByTokenHash("nope")))
        const missing = yield* Effect.flip(repo.findById(crypto.randomUUID() as typeof created.id))
        assert.strictEqual(missing._tag, "NotFound")
      }).pipe(Effect.provide(layer)))

    it.effect("lists only expired sessions, oldest expiry first, within the limit", () =>
      Effect.gen(function*() {
        yield* startClock
        const repo = yield* AuthSessionRepo
        const user = yield* makeTherapist()
        const expiredLate = yield* session(user.id, "2 hours")
        const expiredEarly = yield* session(user.id, "1 hour")
        const active = yield* session(user.id, "2 days")
        const now = at("1 day")

        const expired = yield* repo.list(SessionSelector.Expired({ now }), 10)
        assert.deepStrictEqual(expired.map((s) => s.id), [expiredEarly.id, expiredLate.id])
        assert.deepStrictEqual((yield* repo.list(SessionSelector.Expired({ now }), 1)).map((s) => s.id), [
          expiredEarly.id
        ])
        // Listing is a preview: nothing was removed.
        assert.strictEqual((yield* repo.findById(active.id)).id, active.id)
        assert.strictEqual((yield* repo.listByUser(user.id)).length, 3)
      }).pipe(Effect.provide(layer)))

    it.effect("a session expiring exactly now is not expired yet", () =>
      Effect.gen(function*() {
        yield* startClock
        const repo = yield* AuthSessionRepo
        const user = yield* makeTherapist()
        yield* session(user.id, "1 hour")
        assert.strictEqual((yield* repo.list(SessionSelector.Expired({ now: at("1 hour") }), 10)).length, 0)
        assert.strictEqual((yield* repo.list(SessionSelector.Expired({ now: at("61 minutes") }), 10)).length, 1)
      }).pipe(Effect.provide(layer)))

    it.effect("deletes expired sessions in batches, with their media, and keeps active ones", () =>
      Effect.gen(function*() {
        yield* startClock
        const repo = yield* AuthSessionRepo
        const user = yield* makeTherapist()
        const expired = yield* Effect.forEach([1, 2, 3], (i) => session(user.id, `${i} hours`))
        const active = yield* session(user.id, "30 days")
        yield* repo.addMedia({ authSessionId: expired[0].id, kind: "image", filePath: "/media/a.png", sizeBytes: 10 })
        yield* repo.addMedia({ authSessionId: expired[0].id, kind: "video", filePath: "/media/b.mp4", sizeBytes: 20 })
        yield* repo.addMedia({ authSessionId: active.id, kind: "image", filePath: "/media/keep.png", sizeBytes: 5 })
        const now = at("1 day")

        const first = yield* repo.deleteBatch(SessionSelector.Expired({ now }), 2)
        assert.deepStrictEqual([...first.sessionIds].sort(), [expired[0].id, expired[1].id].sort())
        assert.strictEqual(first.deletedMedia, 2)
        assert.deepStrictEqual(first.mediaPaths, ["/media/a.png", "/media/b.mp4"])

        const second = yield* repo.deleteBatch(SessionSelector.Expired({ now }), 2)
        assert.deepStrictEqual(second.sessionIds, [expired[2].id])
        assert.strictEqual(second.deletedMedia, 0)

        const third = yield* repo.deleteBatch(SessionSelector.Expired({ now }), 2)
        assert.deepStrictEqual(third, { sessionIds: [], sessions: [], deletedMedia: 0, mediaPaths: [] })

        assert.deepStrictEqual((yield* repo.listByUser(user.id)).map((s) => s.id), [active.id])
        assert.deepStrictEqual((yield* repo.listMedia(active.id)).map((m) => m.filePath), ["/media/keep.png"])
        assert.deepStrictEqual(yield* repo.listMedia(expired[0].id), [])
      }).pipe(Effect.provide(layer)))

    it.effect("selects inactive sessions by last activity, and touch moves it forward only", () =>
      Effect.gen(function*() {
        yield* startClock
        const repo = yield* AuthSessionRepo
        const user = yield* makeTherapist()
        const idle = yield* session(user.id, "30 days")
        const busy = yield* session(user.id, "30 days")
        yield* repo.touch(busy.id, at("20 hours"))
        yield* repo.touch(busy.id, at("1 hour")) // older than what is stored: ignored
        assert.isTrue(DateTime.Equivalence((yield* repo.findById(busy.id)).lastActiveAt, at("20 hours")))

        const before = DateTime.subtract(at("30 hours"), { hours: 24 }) // 24h idle at T0+30h
        const inactive = yield* repo.list(SessionSelector.Inactive({ before }), 10)
        assert.deepStrictEqual(inactive.map((s) => s.id), [idle.id])
        const deleted = yield* repo.deleteBatch(SessionSelector.Inactive({ before }), 10)
        assert.deepStrictEqual(deleted.sessionIds, [idle.id])
        assert.deepStrictEqual((yield* repo.listByUser(user.id)).map((s) => s.id), [busy.id])
      }).pipe(Effect.provide(layer)))

    it.effect("per-user selectors touch only that user's sessions", () =>
      Effect.gen(function*() {
        yield* startClock
        const repo = yield* AuthSessionRepo
        const alice = yield* makeTherapist("Alice")
        const bob = yield* makeTherapist("Bob")
        const aliceOld = yield* session(alice.id, "1 hour")
        const bobOld = yield* session(bob.id, "1 hour")
        yield* repo.addMedia({ authSessionId: bobOld.id, kind: "image", filePath: "/media/bob.png", sizeBytes: 1 })
        const now = at("2 days")

        const listed = yield* repo.list(SessionSelector.Inactive({ before: now, userId: alice.id }), 10)
        assert.deepStrictEqual(listed.map((s) => s.id), [aliceOld.id])
        const deleted = yield* repo.deleteBatch(SessionSelector.Expired({ now, userId: alice.id }), 10)
        assert.deepStrictEqual(deleted, {
          sessionIds: [aliceOld.id],
          sessions: [{ id: aliceOld.id, userId: alice.id }],
          deletedMedia: 0,
          mediaPaths: []
        })
        assert.strictEqual((yield* repo.listByUser(bob.id)).length, 1)
        assert.strictEqual((yield* repo.listMedia(bobOld.id)).length, 1)
      }).pipe(Effect.provide(layer)))

    it.effect("deletes chosen sessions by id with their media", () =>
      Effect.gen(function*() {
        yield* startClock
        const repo = yield* AuthSessionRepo
        const user = yield* makeTherapist()
        const a = yield* session(user.id, "30 days")
        const b = yield* session(user.id, "30 days")
        yield* repo.addMedia({ authSessionId: a.id, kind: "video", filePath: "/media/a.mp4", sizeBytes: 1 })
        const deleted = yield* repo.deleteByIds([a.id])
        assert.deepStrictEqual(deleted, {
          sessionIds: [a.id],
          sessions: [{ id: a.id, userId: user.id }],
          deletedMedia: 1,
          mediaPaths: ["/media/a.mp4"]
        })
        assert.deepStrictEqual(yield* repo.deleteByIds([]), {
          sessionIds: [],
          sessions: [],
          deletedMedia: 0,
          mediaPaths: []
        })
        assert.deepStrictEqual((yield* repo.listByUser(user.id)).map((s) => s.id), [b.id])
      }).pipe(Effect.provide(layer)))

    it.effect("time comes from the Clock: createdAt follows TestClock", () =>
      Effect.gen(function*() {
        yield* startClock
        yield* TestClock.adjust("90 minutes")
        const user = yield* makeTherapist()
        const created = yield* session(user.id, "30 days")
        assert.isTrue(DateTime.Equivalence(created.createdAt, at("90 minutes")))
      }).pipe(Effect.provide(layer)))
  })
