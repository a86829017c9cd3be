/**
 * The docs page is Swagger UI: its script, styles and the OpenAPI document are inline, and
 * "try it out" calls this same origin. Nothing else may load, frame it or be framed.
 */
export const DOCS_POLICY = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; " +
  "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; " +
  "frame-ancestors 'none'"

/** JSON answers load nothing; a browser that renders one anyway runs nothing. */
export const API_POLICY = "default-src 'none'; frame-ancestors 'none'"

/**
 * The usual security headers for the answer to a request for `url`: `X-Content-Type-Options:
 * nosniff`, `Referrer-Policy: no-referrer`, and a Content-Security-Policy (the docs page's own on
 * `docsPath`). `ErrorShape.serviceMiddleware` sets them through a pre-response handler, so that
 * error answers carry them too.
 */
export const headersFor = (url: string, docsPath = "/docs"): Record<string, string> => {
  const path = new URL(url, "http://localhost").pathname
  const policy = path === docsPath || path.startsWith(`${docsPath}/`) ? DOCS_POLICY : API_POLICY
  return {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "content-security-policy": policy
  }
}
