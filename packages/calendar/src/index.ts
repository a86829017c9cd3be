export * from "./ICalendar.js"
