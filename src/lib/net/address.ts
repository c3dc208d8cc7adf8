import {isIP} from 'node:net'
import ipaddr from 'ipaddr.js'
import {InputError} from '../errors.js'

// IP address text as peers' sockets and URLs give it: one place that unmaps
// IPv4-mapped IPv6, expands IPv6 groups and names prefixes, for the rate caps
// (limits.ts), the peer table's subnet caps (discovery.ts) and nat-test's
// local-address check (nat.ts); and the one check of a node URL's scheme.

/** `text` as a URL when it parses and is http: or https:, else undefined (callers word their own error). */
export function httpUrl(text: string): URL | undefined {
  try {
    const u = new URL(text)
    return u.protocol === 'http:' || u.protocol === 'https:' ? u : undefined
  } catch {
    return undefined
  }
}

/** A URL's host without the brackets of an IPv6 literal (`[::1]` → `::1`), as sockets and DNS take it. */
export function urlHost(url: string | URL): string {
  const host = (typeof url === 'string' ? new URL(url) : url).hostname
  return host.startsWith('[') ? host.slice(1, -1) : host
}

/**
 * An IPv4-mapped IPv6 address in any spelling (`::ffff:1.2.3.4`,
 * `::ffff:102:304` as URL parsers write it, `0:0:0:0:0:ffff:…`) → `1.2.3.4`;
 * brackets dropped; anything else as it is. Every spelling must come out the
 * same: the local-address and subnet checks read the IPv4 form.
 */
export function unmapV4(address: string): string {
  const a = address.replace(/^\[|\]$/g, '')
  if (isIP(a) !== 6) return a
  // The URL parser writes every IPv6 spelling one way (compressed, lower case, hex groups).
  const m = /^\[::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})\]$/.exec(new URL(`http://[${a}]/`).hostname)
  if (!m) return a
  const hi = parseInt(m[1], 16)
  const lo = parseInt(m[2], 16)
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`
}

/** The eight groups of an IPv6 address, lower case without leading zeros (`::` filled with zeros). */
export function expandV6(address: string): string[] {
  const [head, tail = ''] = address.split('::')
  const h = head ? head.split(':') : []
  const t = tail ? tail.split(':') : []
  const fill = address.includes('::') ? Array(Math.max(0, 8 - h.length - t.length)).fill('0') : []
  return [...h, ...fill, ...t].map((g) => (g || '0').toLowerCase().replace(/^0+(?=.)/, ''))
}

/** The IPv6 prefix of `groups` 16-bit groups as a text key, e.g. `2001:db8:0:0::/64`. */
export function v6Prefix(address: string, groups: number): string {
  return `${expandV6(address).slice(0, groups).join(':')}::/${groups * 16}`
}

export function isLoopback(address: string): boolean {
  return addressRange(address) === 'loopback'
}

/**
 * The IANA special-purpose range an address is in (RFC 6890 registries, as
 * ipaddr.js names them: `unicast` for an ordinary global address, else
 * `loopback`, `private`, `carrierGradeNat`, `linkLocal`, `uniqueLocal`,
 * `reserved` (192.0.0.0/24, 198.18.0.0/15, documentation ranges, 240/4, …),
 * `rfc6052` (64:ff9b::/96, NAT64), `6to4` (2002::/16), `teredo`, `multicast`,
 * …), or `invalid` for text that is not an address. An IPv4-mapped IPv6
 * address is read as its IPv4 address. Named ranges rather than hand-written
 * prefixes: the registries keep growing (issue 14).
 */
export function addressRange(address: string): string {
  const a = address.replace(/^\[|\]$/g, '')
  if (!ipaddr.isValid(a) || isIP(a) === 0) return 'invalid'
  const parsed = ipaddr.process(a) // IPv4-mapped IPv6 becomes IPv4
  return parsed.range()
}

/** Whether an address is not an ordinary global unicast one (special-purpose, local, or not an address at all). */
export function isLocalAddress(address: string): boolean {
  return addressRange(address) !== 'unicast'
}

/** Ranges a node on a private network or loopback may dial (its neighbours are there). */
const PRIVATE_RANGES = new Set(['loopback', 'private', 'carrierGradeNat', 'uniqueLocal'])

/**
 * Whether this node may dial `address` when a stranger names it (dial-backs
 * of registrations, announces, gossip; docs/protocol.md "What a node dials"):
 * a global unicast address always; loopback, RFC 1918, CGNAT and unique-local
 * addresses only when `privateAllowed` (the node itself runs there); never
 * link-local (cloud metadata services live at 169.254.169.254), multicast,
 * broadcast, unspecified, reserved, documentation or benchmarking ranges, nor
 * the IPv6 prefixes that embed an IPv4 address (NAT64, 6to4, Teredo), which
 * could reach a local IPv4 host through a translator.
 */
export function dialAllowed(address: string, privateAllowed: boolean): boolean {
  const range = addressRange(address)
  return range === 'unicast' || (privateAllowed && PRIVATE_RANGES.has(range))
}

/** Checks seed URLs given by a user (exit 2 for anything that is not an http(s) URL). */
export function parseSeedUrls(urls: string[]): string[] {
  return urls.map((u) => {
    const url = httpUrl(u)
    if (url) return url.origin
    throw new InputError(`seed must be an http(s) URL of a node, got ${JSON.stringify(u)}`)
  })
}
