import {createHash} from 'node:crypto'
import {verifySignature, isDid, type Identity} from '../identity/index.js'
import {HttpError} from './http.js'

/** How far a signed request's clock may be from ours. */
export const MAX_CLOCK_SKEW_MS = 2 * 60 * 1000
export const HEADER_DID = 'x-polar-did'
export const HEADER_TIME = 'x-polar-time'
export const HEADER_SIG = 'x-polar-sig'
/** The did of the node the request is meant for: a signed request cannot be replayed to another node. */
export const HEADER_TO = 'x-polar-to'

const PREFIX = 'polar-request-v2'

function message(method: string, path: string, time: string, body: Uint8Array, to: string): Uint8Array {
  const bodyHash = createHash('sha256').update(body).digest('hex')
  return new TextEncoder().encode(`${PREFIX}\n${method.toUpperCase()}\n${path}\n${time}\n${bodyHash}\n${to}`)
}

/**
 * Headers that sign a request with a node (or user) key: method, path with
 * query, time, the body's sha-256 and the receiving node's did (`to`). The
 * receiver checks all five, so a signed request cannot be replayed to another
 * route, later, with another body, or to another node.
 */
export function signRequest(identity: Identity, method: string, path: string, body: Uint8Array = new Uint8Array(0), now = Date.now(), to = ''): Record<string, string> {
  const time = String(now)
  const sig = identity.sign(message(method, path, time, body, to))
  const headers: Record<string, string> = {[HEADER_DID]: identity.did, [HEADER_TIME]: time, [HEADER_SIG]: Buffer.from(sig).toString('base64url')}
  if (to) headers[HEADER_TO] = to
  return headers
}

/** Recently seen signatures, so an exact replay inside the clock window is refused too. */
export class ReplayGuard {
  private readonly seen = new Map<string, number>()
  constructor(private readonly max = 100_000) {}

  check(sig: string, now = Date.now()): void {
    if (this.seen.has(sig)) throw new HttpError(401, 'REPLAYED', 'this signed request was already used')
    if (this.seen.size >= this.max) {
      for (const [k, t] of this.seen) if (t < now - MAX_CLOCK_SKEW_MS) this.seen.delete(k)
      if (this.seen.size >= this.max) this.seen.delete(this.seen.keys().next().value!)
    }
    this.seen.set(sig, now)
  }
}

type Headers = Record<string, string | string[] | undefined>

/**
 * What can be checked of a signed request before its body is read: the
 * headers are there, the did is a did:key and the time is fresh. Returns the
 * claimed signer, so a route can refuse strangers before buffering a body;
 * the signature itself is checked by verifyRequest once the body is in.
 */
export function claimedSigner(headers: Headers, now = Date.now()): string {
  const did = headers[HEADER_DID]
  const time = headers[HEADER_TIME]
  const sig = headers[HEADER_SIG]
  if (typeof did !== 'string' || typeof time !== 'string' || typeof sig !== 'string') {
    throw new HttpError(401, 'UNSIGNED', `this route needs a signed request (${HEADER_DID}, ${HEADER_TIME}, ${HEADER_SIG})`)
  }
  if (!isDid(did)) throw new HttpError(401, 'BAD_SIGNATURE', `${HEADER_DID} is not an ed25519 did:key`)
  const t = Number(time)
  if (!/^\d{1,16}$/.test(time) || Math.abs(now - t) > MAX_CLOCK_SKEW_MS) {
    throw new HttpError(401, 'STALE_REQUEST', `request time is more than ${MAX_CLOCK_SKEW_MS / 1000}s from this node's clock`)
  }
  return did
}

/** Verifies a signed request; returns the signer's did or throws 401. */
export function verifyRequest(headers: Headers, method: string, path: string, body: Uint8Array, guard?: ReplayGuard, now = Date.now(), self?: string): string {
  const did = claimedSigner(headers, now)
  const to = typeof headers[HEADER_TO] === 'string' ? (headers[HEADER_TO] as string) : ''
  // A node passes its own did: the request must have been signed for it.
  if (self !== undefined && to !== self) throw new HttpError(401, 'WRONG_RECEIVER', `this request was signed for ${to || 'no node in particular'}, not for this node (${self})`)
  const time = headers[HEADER_TIME] as string
  const sig = headers[HEADER_SIG] as string
  const sigBytes = Buffer.from(sig, 'base64url')
  // Only the canonical spelling: Buffer's decoder also takes padding, '+' '/' and
  // stray characters, so one signature has many spellings, and the replay guard
  // below remembers spellings.
  if (sigBytes.length !== 64 || sigBytes.toString('base64url') !== sig || !verifySignature(did, message(method, path, time, body, to), sigBytes)) {
    throw new HttpError(401, 'BAD_SIGNATURE', 'request signature does not verify')
  }
  guard?.check(sig, now)
  return did
}
