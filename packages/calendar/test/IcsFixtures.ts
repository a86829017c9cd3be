/** An iCalendar document of the given components, CRLF-separated. */
export const calendar = (...events: ReadonlyArray<string>) =>
  ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Test//Test//EN", ...events, "END:VCALENDAR", ""].join("\r\n")

export const event = (uid: string, ...props: ReadonlyArray<string>) =>
  ["BEGIN:VEVENT", `UID:${uid}`, "DTSTAMP:20260301T000000Z", ...props, "END:VEVENT"].join("\r\n")
