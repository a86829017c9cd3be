import { assert, describe, it } from "@effect/vitest"
import { Cause, ConfigProvider, Effect, Layer, Option, Redacted, Ref, TestClock } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { MailConfig, Mailer } from "../src/Mailer.js"
import { smtpSink } from "./SmtpSink.js"

const tempDir = Effect.acquireRelease(
  Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "clinic-mail-"))),
  (dir) => Effect.promise(() => Fs.rm(dir, { recursive: true, force: true }))
)

const confirmation = {
  to: "pat@example.test",
  subject: "Booking confirmed",
  text: "Your session on Monday 2 March at 10:00 is confirmed."
}

const smtp = (port: number, options: { user?: string; password?: string } = {}) =>
  Mailer.layerSmtp({
    host: "127.0.0.1",
    port,
    secure: false,
    user: Option.fromNullable(options.user),
    password: Option.map(Option.fromNullable(options.password), Redacted.make),
    from: "Clinic <clinic@example.test>"
  })

describe("Mailer", () => {
  it.scoped("delivers over SMTP with authentication; the sink receives exactly the message", () =>
    Effect.gen(function*() {
      const sink = yield* smtpSink
      const sent = yield* Effect.flatMap(Mailer, (m) => m.send(confirmation)).pipe(
        Effect.provide(smtp(sink.port, { user: "user", password: "secret" }))
      )
      assert.match(sent.destination, /^smtp:250/)
      const received = yield* Ref.get(sink.received)
      assert.strictEqual(received.length, 1)
      assert.strictEqual(received[0].from, "clinic@example.test")
      assert.deepStrictEqual(received[0].to, ["pat@example.test"])
      assert.include(received[0].raw, "Subject: Booking confirmed")
      assert.include(received[0].raw, "Your session on Monday 2 March at 10:00 is confirmed.")
      assert.include(received[0].raw, `Message-ID: ${sent.messageId}`)
    }))

  it.scoped("a refused recipient or bad credentials is a MailError, and nothing arrives", () =>
    Effect.gen(function*() {
      const sink = yield* smtpSink
      const refused = yield* Effect.flatMap(Mailer, (m) => m.send({ ...confirmation, to: "x@blocked.test" })).pipe(
        Effect.provide(smtp(sink.port)),
        Effect.flip
      )
      assert.strictEqual(refused._tag, "MailError")
      // The error ends the send's span (and the task's): it does not name the recipient.
      assert.notInclude(refused.message, "x@blocked.test")
      assert.notInclude(Cause.pretty(Cause.fail(refused), { renderErrorCause: true }), "x@blocked.test")
      const badLogin = yield* Effect.flatMap(Mailer, (m) => m.send(confirmation)).pipe(
        Effect.provide(smtp(sink.port, { user: "user", password: "wrong" })),
        Effect.flip
      )
      assert.strictEqual(badLogin._tag, "MailError")
      assert.deepStrictEqual(yield* Ref.get(sink.received), [])
    }))

  it.scoped("without SMTP, messages land in the mail folder as .eml files in time order", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.parse("2026-03-02T09:00:00.000Z"))
      const dir = yield* tempDir
      const folder = Path.join(dir, "mail")
      yield* Effect.gen(function*() {
        const mailer = yield* Mailer
        yield* mailer.send(confirmation)
        yield* TestClock.adjust("1 minute")
        yield* mailer.send({ ...confirmation, subject: "Reminder: your session tomorrow" })
      }).pipe(
        Effect.provide(Layer.fresh(Mailer.layer.pipe(Layer.provide(MailConfig.Default)))),
        Effect.withConfigProvider(ConfigProvider.fromJson({ MAIL_DIR: folder }))
      )
      const files = (yield* Effect.promise(() => Fs.readdir(folder))).sort()
      assert.strictEqual(files.length, 2)
      assert.isTrue(files[0].startsWith("2026-03-02T09-00-00-000Z_"))
      assert.isTrue(files[1].startsWith("2026-03-02T09-01-00-000Z_"))
      assert.isTrue(files.every((f) => f.endsWith(".eml")))
      const second = yield* Effect.promise(() => Fs.readFile(Path.join(folder, files[1]), "utf8"))
      assert.include(second, "Subject: Reminder: your session tomorrow")
      assert.include(second, "To: pat@example.test")
      assert.include(second, "\r\n")
    }))

  it.scoped("with SMTP_HOST configured, the config layer sends over SMTP", () =>
    Effect.gen(function*() {
      const sink = yield* smtpSink
      yield* Effect.flatMap(Mailer, (m) => m.send(confirmation)).pipe(
        Effect.provide(Layer.fresh(Mailer.layer.pipe(Layer.provide(MailConfig.Default)))),
        Effect.withConfigProvider(ConfigProvider.fromJson({
          SMTP_HOST: "127.0.0.1",
          SMTP_PORT: String(sink.port),
          SMTP_USER: "user",
          SMTP_PASSWORD: "secret",
          MAIL_FROM: "Clinic <front-desk@example.test>"
        }))
      )
      const received = yield* Ref.get(sink.received)
      assert.strictEqual(received.length, 1)
      assert.strictEqual(received[0].from, "front-desk@example.test")
    }))
})
