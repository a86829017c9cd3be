import { projectRoot } from "@clinic/foundation"
import { Config, Context, DateTime, Effect, Layer, Option, Redacted, Schema } from "effect"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import Nodemailer from "nodemailer"

export interface Email {
  readonly to: string
  readonly subject: string
  readonly text: string
  readonly html?: string
  /** Defaults to the configured sender. */
  readonly from?: string
}

export interface Sent {
  readonly messageId: string
  /** Where the message went: the SMTP server's reply, or the file in the mail folder. */
  readonly destination: string
}

export class MailError extends Schema.TaggedError<MailError>()("MailError", {
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

export interface MailerShape {
  readonly send: (email: Email) => Effect.Effect<Sent, MailError>
}

export interface SmtpSettings {
  readonly host: string
  readonly port: number
  /** TLS from the first byte (port 465); otherwise STARTTLS when the server offers it. */
  readonly secure: boolean
  readonly user: Option.Option<string>
  readonly password: Option.Option<Redacted.Redacted>
  readonly from: string
}

const settings = Config.all({
  smtpHost: Config.option(Config.string("SMTP_HOST")),
  smtpPort: Config.port("SMTP_PORT").pipe(Config.withDefault(587)),
  smtpSecure: Config.boolean("SMTP_SECURE").pipe(Config.withDefault(false)),
  smtpUser: Config.option(Config.string("SMTP_USER")),
  smtpPassword: Config.option(Config.redacted("SMTP_PASSWORD")),
  from: Config.string("MAIL_FROM").pipe(Config.withDefault("Clinic <no-reply@clinic.localhost>")),
  dir: Config.string("MAIL_DIR").pipe(Config.withDefault(Path.join(projectRoot(), ".data", "mail")))
})

/** Mail settings, read in one place: SMTP when `SMTP_HOST` is set, else the mail folder `MAIL_DIR`. */
export class MailConfig extends Effect.Service<MailConfig>()("@clinic/mail/MailConfig", { effect: settings }) {
  /** For `Settings.layer`, which loads it together with the other config services of the app. */
  static readonly load = Effect.map(settings, (values) => MailConfig.make(values))
}

const mailError = (message: string) => (cause: unknown) => new MailError({ message, cause })

/**
 * What an SMTP failure was, without the server's words: a refusal often quotes the recipient's
 * address, and the error ends the send's span.
 */
const smtpError = (cause: unknown) => {
  const { code, command, responseCode } = (cause ?? {}) as Record<string, unknown>
  return new MailError({
    message: `SMTP delivery failed (${[code, command, responseCode].filter((part) => part !== undefined).join(" ")})`
  })
}

const makeSmtp = (settings: SmtpSettings) =>
  Effect.gen(function*() {
    const transport = yield* Effect.acquireRelease(
      Effect.sync(() =>
        Nodemailer.createTransport({
          host: settings.host,
          port: settings.port,
          secure: settings.secure,
          ...(Option.isSome(settings.user)
            ? {
              auth: {
                user: settings.user.value,
                pass: Option.match(settings.password, { onNone: () => "", onSome: Redacted.value })
              }
            }
            : {})
        })
      ),
      (transport) => Effect.sync(() => transport.close())
    )
    return Mailer.of({
      send: (email) =>
        Effect.tryPromise({
          try: () => transport.sendMail({ from: settings.from, ...email }),
          catch: smtpError
        }).pipe(
          Effect.map((info) => ({ messageId: info.messageId, destination: `smtp:${info.response}` })),
          Effect.withSpan("Mailer.send", { attributes: { transport: "smtp" } })
        )
    })
  })

/**
 * Writes each message as an `.eml` file (RFC 5322, what a mail client opens) into `dir`, named by
 * the Clock's time so that `ls` lists them in order. Written to a temporary name and renamed, so
 * a reader never sees half a message.
 */
const makeFolder = (dir: string, from: string) =>
  Effect.gen(function*() {
    yield* Effect.tryPromise({
      try: () => Fs.mkdir(dir, { recursive: true }),
      catch: mailError(`cannot create the mail folder ${dir}`)
    }).pipe(Effect.orDie)
    const builder = Nodemailer.createTransport({ streamTransport: true, buffer: true, newline: "windows" })
    return Mailer.of({
      send: (email) =>
        Effect.gen(function*() {
          const info = yield* Effect.tryPromise({
            try: () => builder.sendMail({ from, ...email }),
            catch: mailError("cannot build the message")
          })
          const stamp = DateTime.formatIso(yield* DateTime.now).replace(/[:.]/g, "-")
          const id = info.messageId.replace(/[<>]/g, "").replace(/[^a-zA-Z0-9@._-]/g, "_")
          const file = Path.join(dir, `${stamp}_${id}.eml`)
          yield* Effect.tryPromise({
            try: async () => {
              await Fs.writeFile(`${file}.tmp`, info.message as Buffer)
              await Fs.rename(`${file}.tmp`, file)
            },
            catch: mailError(`cannot write ${file}`)
          })
          return { messageId: info.messageId, destination: `file:${file}` }
        }).pipe(Effect.withSpan("Mailer.send", { attributes: { transport: "file" } }))
    })
  })

export class Mailer extends Context.Tag("@clinic/mail/Mailer")<Mailer, MailerShape>() {
  static readonly layerSmtp = (settings: SmtpSettings) => Layer.scoped(Mailer, makeSmtp(settings))
  /** Each message an `.eml` file in `dir` (the mail folder): local runs and tests read them there. */
  static readonly layerFolder = (dir: string, from = "Clinic <no-reply@clinic.localhost>") =>
    Layer.effect(Mailer, makeFolder(dir, from))
  /** What apps use: SMTP from `MailConfig`, or the mail folder when no SMTP host is configured. */
  static readonly layer = Layer.unwrapEffect(
    Effect.gen(function*() {
      const config = yield* MailConfig
      if (Option.isNone(config.smtpHost)) {
        yield* Effect.logInfo("no SMTP_HOST: mail goes to the mail folder").pipe(
          Effect.annotateLogs({ dir: config.dir })
        )
        return Mailer.layerFolder(config.dir, config.from)
      }
      return Mailer.layerSmtp({
        host: config.smtpHost.value,
        port: config.smtpPort,
        secure: config.smtpSecure,
        user: config.smtpUser,
        password: config.smtpPassword,
        from: config.from
      })
    })
  )
}
