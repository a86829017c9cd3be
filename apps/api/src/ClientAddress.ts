import ipaddr from "ipaddr.js"

/**
 * `raw` as one canonical spelling (an IPv4-mapped IPv6 address as IPv4, IPv6 compressed, a
 * `:port` or `[...]:port` dropped), or `undefined` when it is not an IP address. Only the dotted
 * four-part IPv4 form is taken: `0x7f.1` is nobody's address in a header.
 */
export const canonical = (raw: string): string | undefined => {
  let text = raw.trim()
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(text)
  if (bracketed !== null) text = bracketed[1]
  else if (/^[\d.]+:\d+$/.test(text)) text = text.slice(0, text.lastIndexOf(":"))
  if (!ipaddr.IPv4.isValidFourPartDecimal(text) && !ipaddr.IPv6.isValid(text)) return undefined
  return ipaddr.process(text).toString()
}

/**
 * The client's address: the connected one, or, behind `trustedProxies` reverse proxies, the one
 * that many hops back in `X-Forwarded-For` (each proxy appends the address it was connected from,
 * so only the entries our own proxies wrote can be believed; whatever the client sent comes
 * before them). An entry that is not an address stops the walk at the last good one.
 */
export const clientAddress = (
  connected: string | undefined,
  forwardedFor: string | undefined,
  trustedProxies: number
): string | null => {
  let client = connected === undefined ? undefined : canonical(connected)
  if (trustedProxies === 0 || forwardedFor === undefined) return client ?? null
  const hops = forwardedFor.split(",").reverse()
  for (const hop of hops.slice(0, trustedProxies)) {
    const address = canonical(hop)
    if (address === undefined) break
    client = address
  }
  return client ?? null
}

/**
 * What login throttling counts an address as: IPv4 as itself, IPv6 by its /64, the block one
 * subscriber usually holds whole (else each of its 2^64 addresses would have limits of its own).
 */
export const throttledNetwork = (address: string): string => {
  if (!ipaddr.IPv6.isValid(address) || ipaddr.IPv4.isValidFourPartDecimal(address)) return address
  const parts = ipaddr.IPv6.parse(address).parts.slice(0, 4)
  return `${new ipaddr.IPv6([...parts, 0, 0, 0, 0]).toString()}/64`
}
