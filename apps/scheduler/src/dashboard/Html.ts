/**
 * HTML built from templates whose interpolations are escaped unless they are `Html` already: a
 * value can only reach the page as markup by going through `html` (or `raw`, for the few
 * constants that need it).
 */
export class Html {
  constructor(readonly value: string) {}
  toString() {
    return this.value
  }
}

export type Part = Html | string | number | boolean | null | undefined | ReadonlyArray<Part>

const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" }

/** Escapes text for element content and quoted attribute values. */
export const escape = (text: string): string => text.replace(/[&<>"']/g, (c) => ENTITIES[c])

const render = (part: Part): string =>
  part instanceof Html
    ? part.value
    : Array.isArray(part)
    ? part.map(render).join("")
    : part === null || part === undefined || part === false || part === true
    ? ""
    : escape(String(part))

export const html = (strings: TemplateStringsArray, ...values: ReadonlyArray<Part>): Html =>
  new Html(strings.reduce((out, text, i) => out + text + (i < values.length ? render(values[i]) : ""), ""))

/** Trusted markup (constants of this module's callers, never request data). */
export const raw = (markup: string): Html => new Html(markup)
