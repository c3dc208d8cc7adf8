import {lookup} from 'node:dns/promises'
import {isIP, type LookupFunction} from 'node:net'
import {urlHost} from './address.js'

/**
 * Resolving a host once and dialling exactly that address (issue 14): a check
 * of the address ("is it public?") and the connection must see the same
 * answer, or a name that resolves to a public address for the check and to
 * 127.0.0.1 for the connection (DNS rebinding, a TTL of 0) slips past it.
 */

export interface Resolved {
  /** The host as the URL names it (sent as Host and, for https, as the TLS server name). */
  host: string
  /** The one address checked and dialled. */
  address: string
  family: 4 | 6
}

/** Resolves `url`'s host once (an IP literal is its own answer); the first address the resolver gives. */
export async function resolveOnce(url: string | URL): Promise<Resolved> {
  const host = urlHost(url)
  const literal = isIP(host)
  if (literal) return {host, address: host, family: literal as 4 | 6}
  const r = await lookup(host, {verbatim: true})
  return {host, address: r.address, family: r.family as 4 | 6}
}

/**
 * A `lookup` for net.connect (undici's `connect` options) that answers every
 * name with `address`: the connection goes where the check looked, whatever
 * the resolver would say now. Handles both forms net uses (`all` for
 * happy-eyeballs family selection, and the single answer).
 */
export function pinnedLookup(address: string): LookupFunction {
  const family = isIP(address) === 6 ? 6 : 4
  return ((_host: string, options: {all?: boolean}, callback: (...args: unknown[]) => void) => {
    if (options?.all) callback(null, [{address, family}])
    else callback(null, address, family)
  }) as unknown as LookupFunction
}
