export * from "./ExternalCalendarSync.js"
export * from "./ICalendar.js"
export * from "./IcsImport.js"
