import { Effect } from "effect"
import * as Dns from "node:dns/promises"
import * as Net from "node:net"

const v4 = (ip: string) => ip.split(".").map(Number)

/** Loopback, private, link-local (cloud metadata), carrier-grade NAT and unspecified addresses. */
export const isPrivateAddress = (ip: string): boolean => {
  if (Net.isIPv4(ip)) {
    const [a, b] = v4(ip)
    return a === 0 || a === 10 || a === 127 || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127)
  }
  const lower = ip.toLowerCase()
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower)
  if (mapped) return isPrivateAddress(mapped[1])
  return lower === "::" || lower === "::1" || /^f[cd]/.test(lower) || /^fe[89ab]/.test(lower)
}

/**
 * Fails with a reason when `hostname` is, or resolves to, a private address: a feed URL is chosen
 * by a user and fetched by the server, so it must not reach the server's own network. (A DNS
 * answer that changes between this check and the fetch is not caught.)
 */
export const checkPublicHost = (hostname: string): Effect.Effect<void, string> =>
  Effect.gen(function*() {
    const host = hostname.replace(/^\[|\]$/g, "")
    if (host === "localhost" || host.endsWith(".localhost")) return yield* Effect.fail("the host is local")
    const addresses = Net.isIP(host) !== 0
      ? [host]
      : yield* Effect.tryPromise({
        try: () => Dns.lookup(host, { all: true, verbatim: true }),
        catch: () => `the host ${host} could not be resolved`
      }).pipe(Effect.map((all) => all.map((entry) => entry.address)))
    if (addresses.some(isPrivateAddress)) return yield* Effect.fail("the host is on a private network")
  })
