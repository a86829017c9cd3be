import { Logger } from "effect"

/**
 * A logger that keeps every line (level, message, annotations and cause, as JSON) instead of
 * printing it, for tests that check what reaches the log and what must not reach a client.
 */
export const captureLogs = () => {
  const lines: Array<string> = []
  const layer = Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ annotations, cause, logLevel, message }) => {
      lines.push(
        JSON.stringify({
          level: logLevel.label,
          message,
          annotations: Object.fromEntries(annotations),
          cause: String(cause)
        })
      )
    })
  )
  return { lines, layer }
}
