import { assert, describe, it } from "@effect/vitest"
import { escape, html, raw } from "../src/dashboard/Html.js"

describe("Html", () => {
  it("escapes the five characters that matter in content and quoted attributes", () => {
    assert.strictEqual(
      escape(`<a href="x" title='y'>&</a>`),
      "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
    )
  })

  it("escapes interpolated strings and numbers, keeps nested Html, flattens arrays, drops null and booleans", () => {
    const name = "<script>alert(1)</script>"
    const page = html`<p title="${name}">${name}${[html`<b>${1}</b>`, "&"]}${null}${false}${raw("<br>")}</p>`
    assert.strictEqual(
      page.value,
      `<p title="&lt;script&gt;alert(1)&lt;/script&gt;">&lt;script&gt;alert(1)&lt;/script&gt;<b>1</b>&amp;<br></p>`
    )
  })
})
