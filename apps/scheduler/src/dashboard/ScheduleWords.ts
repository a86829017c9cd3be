/**
 * A job's schedule (as `JobSchedule.describe` prints it: `every 15m`, `cron 0 30 3 * * * (UTC)`) in
 * words and as a cron expression, for people reading the dashboard. Patterns it does not know
 * keep the cron alone.
 */
export interface ScheduleText {
  readonly words: string
  readonly cron: string | null
}

const pad = (n: string) => n.padStart(2, "0")
const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
const fixed = (field: string) => /^\d+$/.test(field)

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 }

/** `every` intervals that divide a day are the same ticks as a cron (both are aligned to the epoch, in UTC). */
const everyAsCron = (seconds: number): string | null => {
  if (seconds < 60 && 60 % seconds === 0) return seconds === 1 ? "* * * * * *" : `*/${seconds} * * * * *`
  if (seconds % 60 === 0 && seconds < 3600 && 3600 % seconds === 0) {
    const minutes = seconds / 60
    return minutes === 1 ? "0 * * * * *" : `0 */${minutes} * * * *`
  }
  if (seconds % 3600 === 0 && seconds < 86400 && 86400 % seconds === 0) {
    const hours = seconds / 3600
    return hours === 1 ? "0 0 * * * *" : `0 0 */${hours} * * *`
  }
  return seconds === 86400 ? "0 0 0 * * *" : null
}

const cronWords = (expression: string): string | null => {
  const fields = expression.trim().split(/\s+/)
  const [sec, min, hour, dom, month, dow] = fields.length === 5 ? ["0", ...fields] : fields
  if (fields.length !== 5 && fields.length !== 6) return null
  if (dom !== "*" || month !== "*") return null
  const at = fixed(hour) && fixed(min)
    ? `${pad(hour)}:${pad(min)}${sec !== "0" && fixed(sec) ? `:${pad(sec)}` : ""}`
    : null
  if (at !== null && fixed(sec)) {
    if (dow === "*") return `every day at ${at}`
    if (fixed(dow) && Number(dow) < 7) return `every ${DAYS[Number(dow)]} at ${at}`
    return null
  }
  if (dow !== "*") return null
  if (hour === "*" && fixed(min) && fixed(sec)) return `every hour at minute ${Number(min)}`
  const step = /^\*\/(\d+)$/.exec(min)
  if (hour === "*" && step && fixed(sec)) return `every ${step[1]} minutes`
  return null
}

export const scheduleText = (described: string): ScheduleText => {
  const every = /^every (\d+)([smhd])$/.exec(described)
  if (every) {
    const n = Number(every[1])
    const unit = { s: "second", m: "minute", h: "hour", d: "day" }[every[2]]!
    return { words: n === 1 ? `every ${unit}` : `every ${n} ${unit}s`, cron: everyAsCron(n * UNITS[every[2]]) }
  }
  const cron = /^cron (.+) \((.+)\)$/.exec(described)
  if (cron) {
    const words = cronWords(cron[1])
    return { words: words === null ? "custom schedule" : `${words} (${cron[2]})`, cron: cron[1] }
  }
  return { words: described, cron: null }
}
