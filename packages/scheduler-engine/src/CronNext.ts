import { Cron, DateTime, Option } from "effect"

/**
 * The next fire time of a cron expression, with daylight saving time handled as people expect.
 * Effect's `Cron.next` is right away from the clock changes; around them it is patched here:
 *
 * - Clocks fall back (an hour of local time happens twice): a cron with a wildcard hour
 *   (`0 0,30 * * * *`) fires at every real occurrence, both 01:30 EDT and 01:30 EST;
 *   `Cron.next` skips the second pass. A cron with fixed hours (`0 30 1 * * *`) fires once, on the
 *   first pass, which is what `Cron.next` already does.
 * - Clocks spring forward (an hour of local time never happens): a cron with fixed hours whose time
 *   falls in the gap (02:30 in New York on 2026-03-08) fires once, right after the gap (03:00 EDT);
 *   `Cron.next` would fire at 03:30. A wildcard-hour cron has no real occurrence in the gap and
 *   skips it.
 *
 * Clock changes are found by comparing the zone's offset at the ends of the interval (and three
 * hours before its start, for a start inside a repeated hour), then bisecting to the second.
 */
export const nextAfter = (cron: Cron.Cron, afterMillis: number): number => {
  const start = Math.floor(afterMillis / 1000) * 1000
  let upstream = Cron.next(cron, new Date(start)).getTime()
  if (Option.isNone(cron.tz)) return upstream
  const zone = cron.tz.value
  const offset = (millis: number) => DateTime.zonedOffset(DateTime.unsafeMakeZoned(millis, { timeZone: zone }))
  const wildcardHour = cron.hours.size === 0
  const firstMatch = (from: number, to: number) => {
    for (let t = from; t < to; t += 1000) if (Cron.match(cron, new Date(t))) return t
    return undefined
  }

  // A start inside the second pass of a repeated hour: `Cron.next` reads it as the first pass and
  // may answer a time before `start`. Scan the rest of that hour, then ask again from its end.
  const recent = transition(offset, start - LOOKBACK_MILLIS, start)
  if (recent !== undefined && recent.delta < 0 && start < recent.at - recent.delta) {
    const end = recent.at - recent.delta
    const inRepeat = wildcardHour ? firstMatch(start + 1000, end) : undefined
    if (inRepeat !== undefined) return inRepeat
    upstream = Cron.next(cron, new Date(end - 1000)).getTime()
  }

  const ahead = transition(offset, start, upstream)
  if (ahead === undefined) return upstream
  if (ahead.delta < 0 && wildcardHour) {
    // Falls back before the next fire time: the second pass of the repeated hour is real time.
    const inRepeat = firstMatch(Math.max(start + 1000, ahead.at), Math.min(upstream, ahead.at - ahead.delta))
    if (inRepeat !== undefined) return inRepeat
  }
  if (ahead.delta > 0 && !wildcardHour) {
    // Springs forward: the wall times [at + before, at + after) do not exist; a fixed time among
    // them fires once, at the first instant after the gap. Read the gap's wall times as UTC.
    const naive = Cron.make({ ...cron, tz: undefined })
    const wallStart = ahead.at + ahead.offsetBefore
    for (let wall = wallStart; wall < wallStart + ahead.delta; wall += 1000) {
      if (Cron.match(naive, new Date(wall))) return ahead.at
    }
  }
  return upstream
}

// Longer than any daylight saving shift in use (30 minutes to 2 hours).
const LOOKBACK_MILLIS = 3 * 60 * 60 * 1000

interface Transition {
  /** The first whole second of the new offset. */
  readonly at: number
  readonly offsetBefore: number
  /** New offset minus old: positive when clocks spring forward. */
  readonly delta: number
}

const transition = (offset: (millis: number) => number, from: number, to: number): Transition | undefined => {
  const offsetBefore = offset(from)
  const offsetAfter = offset(to)
  if (offsetBefore === offsetAfter) return undefined
  let low = from
  let high = to
  while (high - low > 1000) {
    const middle = low + Math.floor((high - low) / 2000) * 1000
    if (offset(middle) === offsetBefore) low = middle
    else high = middle
  }
  return { at: high, offsetBefore, delta: offsetAfter - offsetBefore }
}
