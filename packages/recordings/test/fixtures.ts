import { UserId } from "@clinic/domain"
import type { Duration } from "effect"
import { DateTime, TestClock } from "effect"

/** A realistic instant to start every test at: TestClock otherwise starts at 1970. */
export const T0 = DateTime.unsafeMake("2026-03-02T09:00:00.000Z")

export const startClock = TestClock.setTime(DateTime.toEpochMillis(T0))

export const at = (offset: Duration.DurationInput) => DateTime.addDuration(T0, offset)

export const newUserId = () => UserId.make(crypto.randomUUID())
