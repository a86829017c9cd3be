import { BookingId, effectiveStatus, UserId } from "@clinic/domain"
import { EventBus } from "@clinic/events"
import { Backoff, Task, TaskQueue } from "@clinic/queue"
import { BookingRepo, PatientRepo } from "@clinic/repository"
import { DateTime, Effect, Option, Schema } from "effect"
import { Mailer } from "./Mailer.js"

export const EMAIL_QUEUE = "email"

export const EmailPayload = Schema.Struct({
  to: Schema.String,
  subject: Schema.String,
  text: Schema.String
})

/** Sends one message; SMTP outages are retried for about a day before the task is dead. */
export const sendEmail = Task.make({
  name: "email.send",
  payload: EmailPayload,
  queue: EMAIL_QUEUE,
  maxAttempts: 12,
  backoff: Backoff.make({ base: "30 seconds", max: "4 hours" }),
  timeout: "1 minute",
  handler: (email) => Effect.flatMap(Mailer, (mailer) => mailer.send(email))
})

// Times are shown in UTC until therapists have a time zone of their own.
const when = (instant: DateTime.Utc) => DateTime.formatIso(instant).slice(0, 16).replace("T", " ") + " UTC"

const ReminderPayload = Schema.Struct({ bookingId: BookingId, therapistId: UserId })

/** 24 hours before a confirmed booking: reminds the patient, unless it was cancelled since. */
export const bookingReminder = Task.make({
  name: "email.booking-reminder",
  payload: ReminderPayload,
  queue: EMAIL_QUEUE,
  maxAttempts: 12,
  backoff: Backoff.make({ base: "30 seconds", max: "1 hour" }),
  handler: ({ bookingId, therapistId }) =>
    Effect.gen(function*() {
      const booking = yield* Effect.flatMap(BookingRepo, (repo) => repo.findOwned(therapistId, bookingId)).pipe(
        Effect.option
      )
      const now = yield* DateTime.now
      if (Option.isNone(booking) || effectiveStatus(booking.value, now) !== "confirmed") {
        return yield* Effect.logInfo("booking no longer confirmed; no reminder")
      }
      const patient = yield* Effect.flatMap(PatientRepo, (repo) => repo.findOwned(therapistId, booking.value.patientId))
        .pipe(Effect.option)
      if (Option.isNone(patient) || patient.value.email === null) return
      yield* Effect.flatMap(Mailer, (mailer) =>
        mailer.send({
          to: patient.value.email!,
          subject: "Reminder: your session tomorrow",
          text: `Hello ${patient.value.name},\n\nThis is a reminder of your session at ${
            when(booking.value.startsAt)
          }.\n`
        }))
    })
})

const REMINDER_LEAD = "24 hours"

/**
 * Turns booking events into mail: a confirmation and a reminder task for `booking.confirmed`, a
 * notice for `booking.expired`. Runs inside the delivery's transaction, so the tasks exist exactly
 * when the delivery is recorded; idempotency keys keep a redelivery from adding a second message.
 */
export const bookingEmails = EventBus.subscriber({
  name: "booking-emails",
  events: ["booking.confirmed", "booking.expired"],
  handler: (event, context) =>
    Effect.gen(function*() {
      const patient = yield* Effect.flatMap(PatientRepo, (repo) => repo.findOwned(event.therapistId, event.patientId))
        .pipe(Effect.option)
      if (Option.isNone(patient) || patient.value.email === null) {
        return yield* Effect.logInfo("patient has no email address; nothing to send")
      }
      const to = patient.value.email
      if (event._tag === "booking.confirmed") {
        yield* TaskQueue.enqueue(sendEmail, {
          to,
          subject: "Booking confirmed",
          text: `Hello ${patient.value.name},\n\nYour session at ${when(event.startsAt)} is confirmed.\n`
        }, { idempotencyKey: `email:${context.eventId}` })
        const remindAt = DateTime.subtractDuration(event.startsAt, REMINDER_LEAD)
        if (DateTime.lessThan(yield* DateTime.now, remindAt)) {
          yield* TaskQueue.enqueue(bookingReminder, { bookingId: event.bookingId, therapistId: event.therapistId }, {
            runAt: remindAt,
            idempotencyKey: `reminder:${event.bookingId}`
          })
        }
      } else {
        yield* TaskQueue.enqueue(sendEmail, {
          to,
          subject: "Your booking request expired",
          text: `Hello ${patient.value.name},\n\nThe hold on your session at ${
            when(event.startsAt)
          } expired before it was confirmed, so the slot was released.\n`
        }, { idempotencyKey: `email:${context.eventId}` })
      }
    })
})

/** Every task of the email queue, for the scheduler's registry. */
export const tasks = [sendEmail, bookingReminder] as const
