import { OpenApi } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { ClinicApi, SchedulerAdminApi } from "../src/index.js"

const documents = { ClinicApi: OpenApi.fromApi(ClinicApi), SchedulerAdminApi: OpenApi.fromApi(SchedulerAdminApi) }

const operations = (spec: OpenApi.OpenAPISpec) =>
  Object.entries(spec.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, operation]) => ({ at: `${method.toUpperCase()} ${path}`, operation }))
  )

/** The header names documented on one response of an operation. */
const headersOf = (spec: OpenApi.OpenAPISpec, path: string, method: "get" | "post", status: number) =>
  Object.keys((spec.paths[path][method]!.responses[status] as { headers?: object }).headers ?? {}).sort()

describe("the OpenAPI documents", () => {
  for (const [name, spec] of Object.entries(documents)) {
    it(`${name}: every operation has a summary and a description, and a unique operationId`, () => {
      const all = operations(spec)
      assert.isAbove(all.length, 5)
      const missing = all.filter(({ operation }) => !operation.summary?.trim() || !operation.description?.trim())
      assert.deepStrictEqual(
        missing.map(({ at }) => at),
        [],
        "annotate them: .annotateContext(docs(summary, description))"
      )
      const ids = all.map(({ operation }) => operation.operationId)
      assert.strictEqual(new Set(ids).size, ids.length)
    })

    it(`${name}: every response documents X-Request-Id, defined once in the components`, () => {
      for (const { at, operation } of operations(spec)) {
        for (const [status, response] of Object.entries(operation.responses)) {
          assert.deepStrictEqual(
            (response as { headers?: Record<string, unknown> }).headers?.["X-Request-Id"],
            { $ref: "#/components/headers/X-Request-Id" },
            `${at} ${status}`
          )
        }
      }
      const components = spec.components as unknown as { headers: Record<string, unknown> }
      assert.property(components.headers, "X-Request-Id")
    })
  }

  it("the rate-limited endpoints document RateLimit and RateLimit-Policy, and Retry-After on a 429", () => {
    const spec = documents.ClinicApi
    for (const [path, success] of [["/recordings", 201], ["/recordings/{id}/extract-notes", 202]] as const) {
      assert.deepStrictEqual(headersOf(spec, path, "post", success), ["RateLimit", "RateLimit-Policy", "X-Request-Id"])
      assert.deepStrictEqual(headersOf(spec, path, "post", 429), [
        "RateLimit",
        "RateLimit-Policy",
        "Retry-After",
        "X-Request-Id"
      ])
      assert.deepStrictEqual(headersOf(spec, path, "post", 404), ["X-Request-Id"])
    }
    // Endpoints without a limit do not claim the headers.
    assert.deepStrictEqual(headersOf(spec, "/recordings", "get", 200), ["X-Request-Id"])
    assert.notProperty((documents.SchedulerAdminApi.components as unknown as { headers: object }).headers, "RateLimit")
  })
})
