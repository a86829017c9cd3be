import type { HttpClient } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import ipaddr from "ipaddr.js"
import * as Dns from "node:dns"
import type * as Http from "node:http"
import type * as Https from "node:https"
import type * as Net from "node:net"
import { isIP } from "node:net"

/**
 * Whether `ip` is an ordinary public unicast address. Everything `ipaddr.js` names otherwise is
 * refused: loopback, private, link-local (cloud metadata), unique-local, multicast, broadcast,
 * carrier-grade NAT, reserved and unspecified ranges, and the IPv6 forms that carry or translate
 * an IPv4 address (NAT64 `64:ff9b::/96`, 6to4, Teredo). An IPv4-mapped address
 * (`::ffff:127.0.0.1`) is judged by the IPv4 address it maps to.
 */
export const isPublicAddress = (ip: string): boolean => {
  if (!ipaddr.isValid(ip)) return false
  const parsed = ipaddr.parse(ip)
  const address = parsed.kind() === "ipv6" && (parsed as ipaddr.IPv6).isIPv4MappedAddress()
    ? (parsed as ipaddr.IPv6).toIPv4Address()
    : parsed
  return address.range() === "unicast"
}

export const isPrivateAddress = (ip: string): boolean => !isPublicAddress(ip)

/** The connection was refused because it would reach a non-public address. */
export class PrivateAddressRefused extends Error {
  constructor(readonly host: string, readonly address: string) {
    super(`the host ${host} is on a private network`)
  }
}

/** `dns.lookup` that refuses an answer with any non-public address (checked as the socket connects). */
const publicLookup: Net.LookupFunction = (hostname, options, callback) => {
  Dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error !== null) return callback(error, "", 0)
    const refused = addresses.find((entry) => !isPublicAddress(entry.address))
    if (refused !== undefined) {
      return callback(
        Object.assign(new PrivateAddressRefused(hostname, refused.address), { code: "EPRIVATE" }),
        "",
        0
      )
    }
    if (options.all === true) return (callback as unknown as (e: null, all: typeof addresses) => void)(null, addresses)
    callback(null, addresses[0].address, addresses[0].family)
  })
}

/**
 * An agent's `createConnection` that refuses a literal non-public address itself: Node skips the
 * lookup for an IP literal, so the lookup alone would let `http://[::ffff:127.0.0.1]/` through.
 */
const guarded = <A extends Http.Agent>(agent: A): A => {
  type CreateConnection = (this: A, options: Net.NetConnectOpts, callback: unknown) => Net.Socket | undefined
  const create = (agent as unknown as { createConnection: CreateConnection }).createConnection
  Object.assign(agent, {
    createConnection(
      this: A,
      options: Net.NetConnectOpts & { host?: string },
      callback: (error: Error | null, socket?: Net.Socket) => void
    ) {
      const host = (options.host ?? "").replace(/^\[|\]$/g, "")
      if (isIP(host) !== 0 && !isPublicAddress(host)) {
        callback(new PrivateAddressRefused(host, host))
        return undefined
      }
      return create.call(this, { ...options, lookup: publicLookup }, callback)
    }
  })
  return agent
}

/**
 * The HTTP client of feed fetches (`node:http`, which follows no redirect by itself). With
 * `allowPrivateNetworks` off, every connection, on every redirect hop, is checked at the address
 * it connects to: the lookup is the one the socket uses, so a DNS answer that changes between a
 * check and the connection (rebinding) cannot slip through.
 */
export const clientLayer = (allowPrivateNetworks: boolean): Layer.Layer<HttpClient.HttpClient> =>
  // Fresh: the platform's layer is one shared value, memoized across the app, and would hand
  // this agent to every other client (or another agent to this one).
  Layer.fresh(NodeHttpClient.layerWithoutAgent).pipe(
    Layer.provide(
      allowPrivateNetworks ? NodeHttpClient.makeAgentLayer() : Layer.scoped(
        NodeHttpClient.HttpAgent,
        Effect.map(NodeHttpClient.makeAgent(), (agent) => ({
          ...agent,
          http: guarded(agent.http),
          https: guarded(agent.https as Https.Agent)
        }))
      )
    )
  )
