import { Effect, Option, Ref } from "effect"
import type { AddressInfo } from "node:net"
import { SMTPServer } from "smtp-server"
import { Mailer } from "../src/Mailer.js"

export interface Received {
  readonly from: string
  readonly to: ReadonlyArray<string>
  readonly raw: string
}

/**
 * A real SMTP server in this process for the life of the scope, on a free port. It accepts
 * `user`/`secret`, refuses any recipient at `blocked.test`, and keeps what arrives.
 */
export const smtpSink = Effect.gen(function*() {
  const received = yield* Ref.make<ReadonlyArray<Received>>([])
  const server = new SMTPServer({
    disabledCommands: ["STARTTLS"],
    allowInsecureAuth: true,
    authOptional: true,
    logger: false,
    onAuth: (auth, _session, callback) =>
      auth.username === "user" && auth.password === "secret"
        ? callback(null, { user: auth.username })
        : callback(new Error("Invalid username or password")),
    onRcptTo: (address, _session, callback) =>
      address.address.endsWith("@blocked.test")
        ? callback(new Error(`<${address.address}>: Recipient address rejected`))
        : callback(),
    onData: (stream, session, callback) => {
      const chunks: Array<Buffer> = []
      stream.on("data", (chunk: Buffer) => chunks.push(chunk))
      stream.on("end", () => {
        const mailFrom = session.envelope.mailFrom
        Effect.runSync(Ref.update(received, (all) => [...all, {
          from: mailFrom ? mailFrom.address : "",
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString("utf8")
        }]))
        callback()
      })
    }
  })
  const port = yield* Effect.acquireRelease(
    Effect.async<number>((resume) => {
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed((server.server.address() as AddressInfo).port)))
    }),
    () => Effect.async<void>((resume) => server.close(() => resume(Effect.void)))
  )
  return { port, received }
})

/** A `Mailer` that sends over SMTP to `sink`, without authentication. */
export const smtpMailer = (sink: { readonly port: number }) =>
  Mailer.layerSmtp({
    host: "127.0.0.1",
    port: sink.port,
    secure: false,
    user: Option.none(),
    password: Option.none(),
    from: "Clinic <clinic@example.test>"
  })
