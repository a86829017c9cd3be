import { assert, describe, it } from "@effect/vitest"
import { canonical, clientAddress, throttledNetwork } from "../src/ClientAddress.js"

describe("ClientAddress", () => {
  it("canonical: one spelling per address; anything else is not an address", () => {
    const cases: ReadonlyArray<readonly [string, string | undefined]> = [
      ["192.0.2.1", "192.0.2.1"],
      [" 192.0.2.1 ", "192.0.2.1"],
      ["192.0.2.1:8080", "192.0.2.1"],
      ["::ffff:127.0.0.1", "127.0.0.1"],
      ["::FFFF:7f00:1", "127.0.0.1"],
      ["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
      ["[2001:db8::1]:443", "2001:db8::1"],
      ["[2001:db8::1]", "2001:db8::1"],
      ["0x7f.1", undefined],
      ["127.1", undefined],
      ["unknown", undefined],
      ["", undefined],
      ["192.0.2.1, 192.0.2.2", undefined],
      ["999.0.0.1", undefined]
    ]
    for (const [raw, expected] of cases) assert.strictEqual(canonical(raw), expected, raw)
  })

  it("clientAddress: the connected address, or as many X-Forwarded-For hops back as there are trusted proxies", () => {
    const cases: ReadonlyArray<readonly [string | undefined, string | undefined, number, string | null]> = [
      ["::ffff:10.0.0.5", "198.51.100.7", 0, "10.0.0.5"],
      ["10.0.0.5", undefined, 1, "10.0.0.5"],
      ["10.0.0.5", "198.51.100.7", 1, "198.51.100.7"],
      // The client wrote the first entry itself; only the last one is our proxy's.
      ["10.0.0.5", "1.2.3.4, 198.51.100.7", 1, "198.51.100.7"],
      ["10.0.0.5", "1.2.3.4, 198.51.100.7, 10.0.0.4", 2, "198.51.100.7"],
      // Fewer hops than proxies: the furthest one there is.
      ["10.0.0.5", "198.51.100.7", 3, "198.51.100.7"],
      // Garbage stops the walk at the last good address.
      ["10.0.0.5", "1.2.3.4, not-an-address", 2, "10.0.0.5"],
      ["10.0.0.5", "not-an-address, 198.51.100.7", 2, "198.51.100.7"],
      [undefined, undefined, 0, null],
      [undefined, "198.51.100.7", 1, "198.51.100.7"]
    ]
    for (const [connected, forwarded, proxies, expected] of cases) {
      assert.strictEqual(clientAddress(connected, forwarded, proxies), expected, `${connected} ${forwarded} ${proxies}`)
    }
  })

  it("throttledNetwork: IPv4 as itself, IPv6 by its /64", () => {
    assert.strictEqual(throttledNetwork("192.0.2.1"), "192.0.2.1")
    assert.strictEqual(throttledNetwork("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64")
    assert.strictEqual(throttledNetwork("2001:db8:1:2::9"), "2001:db8:1:2::/64")
    assert.strictEqual(throttledNetwork("::1"), "::/64")
  })
})
