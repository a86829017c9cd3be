import { DateTime, Either } from "effect"
import ICAL from "ical.js"

/** A time the therapist is busy according to an external calendar. */
export interface BusyInterval {
  readonly startsAt: DateTime.Utc
  readonly endsAt: DateTime.Utc
}

export interface ImportWindow {
  /** Busy times that end at or before `from` are left out. */
  readonly from: DateTime.Utc
  /** Busy times that start at or after `to` are left out: recurring events expand up to here. */
  readonly to: DateTime.Utc
  /** More busy times than this is a failed import, not a truncated one (that would free slots). */
  readonly maxIntervals: number
}

/** Occurrences looked at per recurring event before giving up (FREQ=MINUTELY for years...). */
const MAX_OCCURRENCES_PER_EVENT = 20_000

const epochMillis = (time: ICAL.Time): number => time.toUnixTime() * 1000

const isBusy = (component: ICAL.Component): boolean => {
  const status = String(component.getFirstPropertyValue("status") ?? "").toUpperCase()
  const transp = String(component.getFirstPropertyValue("transp") ?? "").toUpperCase()
  return status !== "CANCELLED" && transp !== "TRANSPARENT"
}

/**
 * The busy times of an iCalendar document within a window. Cancelled and transparent (free)
 * events are not busy; recurring events are expanded with their exceptions (RRULE, RDATE,
 * EXDATE, RECURRENCE-ID overrides). Times with a TZID use the document's VTIMEZONE definitions;
 * a TZID without one, and floating times, are read as UTC; all-day events block whole UTC days.
 * Fails with a description when the text is not iCalendar or has too many busy times.
 */
export const parseBusy = (text: string, window: ImportWindow): Either.Either<ReadonlyArray<BusyInterval>, string> => {
  let root: ICAL.Component
  try {
    root = new ICAL.Component(ICAL.parse(text))
  } catch (error) {
    return Either.left(`not an iCalendar document: ${error instanceof Error ? error.message : String(error)}`)
  }
  if (root.name !== "vcalendar") return Either.left(`expected a VCALENDAR, got ${root.name.toUpperCase()}`)

  const from = DateTime.toEpochMillis(window.from)
  const to = DateTime.toEpochMillis(window.to)
  const intervals: Array<BusyInterval> = []
  const add = (start: number, end: number): boolean => {
    if (end <= start || end <= from || start >= to) return true
    intervals.push({ startsAt: DateTime.unsafeMake(start), endsAt: DateTime.unsafeMake(end) })
    return intervals.length <= window.maxIntervals
  }
  const tooMany = Either.left(`more than ${window.maxIntervals} busy times in the import window`)

  try {
    // ical.js resolves TZIDs through one process-wide registry: a zone is whatever definition was
    // registered last under its name, which for real feeds is the same IANA zone.
    for (const zone of root.getAllSubcomponents("vtimezone")) ICAL.TimezoneService.register(zone)

    const events = root.getAllSubcomponents("vevent")
    const exceptionsByUid = new Map<string, Array<ICAL.Component>>()
    const masters: Array<ICAL.Component> = []
    for (const event of events) {
      if (event.hasProperty("recurrence-id")) {
        const uid = String(event.getFirstPropertyValue("uid") ?? "")
        exceptionsByUid.set(uid, [...(exceptionsByUid.get(uid) ?? []), event])
      } else {
        masters.push(event)
      }
    }
    const masterUids = new Set(masters.map((event) => String(event.getFirstPropertyValue("uid") ?? "")))
    // An override whose series is not in the document stands on its own.
    for (const [uid, orphans] of exceptionsByUid) if (!masterUids.has(uid)) masters.push(...orphans)

    for (const component of masters) {
      const uid = String(component.getFirstPropertyValue("uid") ?? "")
      const exceptions = component.hasProperty("recurrence-id") ? [] : exceptionsByUid.get(uid) ?? []
      const event = new ICAL.Event(component, { exceptions, strictExceptions: false })
      if (!event.isRecurring()) {
        if (isBusy(component) && !add(epochMillis(event.startDate), epochMillis(event.endDate))) return tooMany
        continue
      }
      const iterator = event.iterator()
      for (let i = 0; i < MAX_OCCURRENCES_PER_EVENT; i++) {
        const next = iterator.next()
        if (!next) break
        const details = event.getOccurrenceDetails(next)
        const start = epochMillis(details.startDate)
        // Overrides can move an occurrence later, so stop on the series' own date, not the moved one.
        if (epochMillis(next) >= to && start >= to) break
        if (!isBusy(details.item.component)) continue
        if (!add(start, epochMillis(details.endDate))) return tooMany
      }
    }
  } catch (error) {
    return Either.left(`unreadable event: ${error instanceof Error ? error.message : String(error)}`)
  }
  intervals.sort((a, b) =>
    a.startsAt.epochMillis - b.startsAt.epochMillis || a.endsAt.epochMillis - b.endsAt.epochMillis
  )
  return Either.right(intervals)
}
