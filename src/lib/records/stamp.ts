import {createHash} from 'node:crypto'

/**
 * Hashcash proof-of-work stamps (drafts 000 and 002): a nonce such that
 * sha-256("polar-stamp/v1\n" + resource + "\n" + time + "\n" + nonce) starts
 * with at least `bits` zero bits. The resource binds a stamp to what it pays
 * for (a node did for a peer record; signer did and root CID for a remote
 * write) and the time binds it to a window, so a stamp cannot be reused for
 * anything else and is only remembered (SpentStamps) until it expires.
 */
export interface Stamp {
  bits: number
  /** hex, at most 32 characters */
  nonce: string
}

export const STAMP_PREFIX = 'polar-stamp/v1'
/** About one second of work here: node hashes ~660k short inputs/s on this 2-core VM, so 2^19 takes ~0.8 s on average (20 bits: 1.6 s). */
export const DEFAULT_STAMP_BITS = 19
/** Default for push --max-stamp-bits: about 1.6 s of hashing here on average (DEFAULT_STAMP_BITS is ~0.8 s). */
export const DEFAULT_MAX_STAMP_BITS = 20
export const MAX_STAMP_BITS = 32

function digest(resource: string, time: number, nonce: string): Buffer {
  return createHash('sha256').update(`${STAMP_PREFIX}\n${resource}\n${time}\n${nonce}`).digest()
}

export function leadingZeroBits(hash: Uint8Array): number {
  let n = 0
  for (const byte of hash) {
    if (byte === 0) {
      n += 8
      continue
    }
    return n + Math.clz32(byte) - 24
  }
  return n
}

/**
 * Finds a stamp of `bits` for (resource, time). Yields to the event loop every
 * 16k hashes so a serving node stays responsive while it mints.
 */
export async function mintStamp(resource: string, time: number, bits: number, signal?: AbortSignal): Promise<Stamp> {
  if (!Number.isInteger(bits) || bits < 0 || bits > MAX_STAMP_BITS) throw new RangeError(`stamp bits must be 0-${MAX_STAMP_BITS}`)
  for (let i = 0; ; i++) {
    const nonce = i.toString(16)
    if (leadingZeroBits(digest(resource, time, nonce)) >= bits) return {bits, nonce}
    if ((i & 0x3fff) === 0x3fff) {
      signal?.throwIfAborted()
      await new Promise((resolve) => setImmediate(resolve))
    }
  }
}

/** Why a stamp is not acceptable, or null when it is. Never throws on hostile input. */
export function stampProblem(stamp: unknown, resource: string, time: number, minBits: number): string | null {
  if (typeof stamp !== 'object' || stamp === null) return 'stamp missing'
  const {bits, nonce} = stamp as Partial<Stamp>
  if (typeof bits !== 'number' || !Number.isInteger(bits) || bits < 0 || bits > MAX_STAMP_BITS) return 'stamp bits malformed'
  if (typeof nonce !== 'string' || !/^[0-9a-f]{1,32}$/.test(nonce)) return 'stamp nonce malformed'
  if (bits < minBits) return `stamp difficulty ${bits} below the required ${minBits}`
  if (leadingZeroBits(digest(resource, time, nonce)) < bits) return 'stamp does not hash to its difficulty'
  return null
}

/** Stamps already used, remembered until they expire, so one cannot be spent twice. */
export class SpentStamps {
  private readonly seen = new Map<string, number>()
  constructor(private readonly maxEntries = 100_000) {}

  /** Records the stamp; false when it was already spent (and has not expired). */
  spend(resource: string, time: number, stamp: Stamp, expiresAt: number, now = Date.now()): boolean {
    const key = `${resource}\n${time}\n${stamp.nonce}`
    const until = this.seen.get(key)
    if (until !== undefined && until > now) return false
    if (this.seen.size >= this.maxEntries) this.prune(now)
    if (this.seen.size >= this.maxEntries) return false // full of live stamps: refuse rather than grow
    this.seen.set(key, expiresAt)
    return true
  }

  prune(now = Date.now()): void {
    for (const [key, until] of this.seen) if (until <= now) this.seen.delete(key)
  }

  get size(): number {
    return this.seen.size
  }
}

/** What a remote write's stamp pays for: this signer writing this object (push --node; the node checks the same string). */
export function writeStampResource(owner: string, root: string): string {
  return `write\n${owner}\n${root}`
}

/**
 * What a registration's stamp pays for (POST /v1/peers/register): this signer
 * having its origin dialled back, once by each node it is shown to (each
 * remembers it as spent). Like a peer record's stamp, which also buys one
 * dial-back at every node the record reaches, it is not bound to the
 * receiver: a node joining several others pays once (`peers add` reuses it
 * while its time is fresh).
 */
export function registerStampResource(signer: string, origin: string): string {
  return `register\n${signer}\n${origin}`
}

/** The most a registering client pays when a peer asks for more than it offered (24 bits: ~25 s here on average). */
export const MAX_REGISTER_BITS = 24
