import {isIP} from 'node:net'
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
  const a = unmapV4(address)
  return a.startsWith('127.') || a === '::1'
}

/**
 * Whether an address is not globally routable: loopback, RFC 1918, CGNAT,
 * link-local, unique-local, multicast, unspecified (RFC 6890 special-purpose
 * registries) — and anything that is not an address at all.
 */
export function isLocalAddress(address: string): boolean {
  const a = unmapV4(address).toLowerCase()
  if (isIP(a) === 4) {
    const [x, y] = a.split('.').map(Number)
    return x === 0 || x === 10 || x === 127 || (x === 100 && y >= 64 && y < 128) || (x === 169 && y === 254) || (x === 172 && y >= 16 && y < 32) || (x === 192 && y === 168) || x >= 224
  }
  if (isIP(a) === 6) return a === '::' || a === '::1' || /^f[cd]/.test(a) || /^fe[89ab]/.test(a) || /^ff/.test(a)
  return true // not an address at all: treat as local
}

/** Checks seed URLs given by a user (exit 2 for anything that is not an http(s) URL). */
export function parseSeedUrls(urls: string[]): string[] {
  return urls.map((u) => {
    const url = httpUrl(u)
    if (url) return url.origin
    throw new InputError(`seed must be an http(s) URL of a node, got ${JSON.stringify(u)}`)
  })
}
