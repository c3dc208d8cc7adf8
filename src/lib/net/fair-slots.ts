import {unmapV4, v6Prefix} from './address.js'

/**
 * Where a connection comes from, as the caps count it (issue 20 point 7): its
 * address (IPv6: the /64, which one host usually holds whole) and the prefix
 * around it (IPv4 /24, IPv6 /48: what one operator or one hosting customer
 * typically holds). Loopback counts like any other address.
 */
export interface Remote {
  address: string
  prefix: string
}

/** The key a request is counted under: its IPv4 address, or the /64 of an IPv6 one (one host usually holds a whole /64). */
export function addressKey(address: string | undefined): string {
  if (!address) return 'unknown'
  const a = unmapV4(address)
  return a.includes(':') ? v6Prefix(a, 4) : a
}

/** The network around an address: IPv4 /24, IPv6 /48 (the peer table's subnet caps use the same sizes). */
export function prefixKey(address: string | undefined): string {
  if (!address) return 'unknown'
  const a = unmapV4(address)
  if (a.includes(':')) return v6Prefix(a, 3)
  const m = /^(\d+\.\d+\.\d+)\.\d+$/.exec(a)
  return m ? `${m[1]}.0/24` : a
}

export function remoteOf(address: string | undefined): Remote {
  return {address: addressKey(address), prefix: prefixKey(address)}
}

/**
 * An address holding fewer than its share of slots, in a /24 (/48) holding
 * fewer than twice as many, is "under its share": the reserve (below) is kept
 * for such addresses. The share is a quarter of the per-address cap, at most
 * this: an honest peer opens up to 12 connections to a node (8 pooled, 4
 * bulk) and has about as many requests in hand.
 */
export const FAIR_SHARE = 16

/** Why a slot is refused: the node is full, or the address (or its prefix) holds its cap. */
export type Refusal = 'full' | 'address' | 'prefix'

/**
 * Slots (open connections, requests in hand) shared between remote addresses
 * so that one address or network cannot take them all:
 * - at most `perAddress` per address and `perPrefix` per /24 (/48);
 * - the last `reserve` slots go only to addresses under their `share`
 *   (networks under twice that): while one or two networks flood, whether from one address or
 *   spread over many, the addresses that do not can still get in. (Many
 *   networks each staying under its share can still fill the node: that is a
 *   distributed flood, which these caps only bound.)
 */
export class FairSlots {
  private total = 0
  private readonly byAddress = new Map<string, number>()
  private readonly byPrefix = new Map<string, number>()

  constructor(
    readonly capacity: number,
    readonly perAddress: number,
    readonly perPrefix: number,
    readonly reserve = Math.ceil(capacity / 4),
    readonly share = Math.min(FAIR_SHARE, Math.max(1, Math.floor(perAddress / 4))),
  ) {}

  /** Why `who` may not take a slot now (its own caps first: those are its doing), or undefined when it may. */
  refusal(who: Remote): Refusal | undefined {
    const held = this.byAddress.get(who.address) ?? 0
    if (held >= this.perAddress) return 'address'
    if ((this.byPrefix.get(who.prefix) ?? 0) >= this.perPrefix) return 'prefix'
    if (this.total >= this.capacity) return 'full'
    if (this.total >= this.capacity - this.reserve) {
      if (held >= this.share) return 'address'
      if ((this.byPrefix.get(who.prefix) ?? 0) >= 2 * this.share) return 'prefix' // many addresses of one network, each under its share
    }
    return undefined
  }

  take(who: Remote): void {
    this.total++
    this.byAddress.set(who.address, (this.byAddress.get(who.address) ?? 0) + 1)
    this.byPrefix.set(who.prefix, (this.byPrefix.get(who.prefix) ?? 0) + 1)
  }

  give(who: Remote): void {
    this.total--
    dec(this.byAddress, who.address)
    dec(this.byPrefix, who.prefix)
  }

  get size(): number {
    return this.total
  }

  heldBy(address: string): number {
    return this.byAddress.get(address) ?? 0
  }
}

/** Counts that reach 0 are deleted: a flood leaves no entry behind. */
function dec(map: Map<string, number>, key: string): void {
  const n = (map.get(key) ?? 0) - 1
  if (n <= 0) map.delete(key)
  else map.set(key, n)
}
