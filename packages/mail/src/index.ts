export * as BookingEmails from "./BookingEmails.js"
export * from "./Mailer.js"
