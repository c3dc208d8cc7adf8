import {InputError, NetworkError} from '../../errors.js'
import {MAX_REGISTER_BITS, mintStamp, registerStampResource} from '../../records/stamp.js'
import {safeJson} from './answers.js'
import type {Hello, PeerTransport, RequestOptions} from './transport.js'

/**
 * The discovery routes of a peer (draft 000; docs/protocol.md "Peer records and discovery"):
 * registration, seed requests, announces, gossip and its peer list.
 * `peer.discovery.seed()`. The hello itself is `peer.hello()`.
 */
export class DiscoveryClient {
  constructor(private readonly t: PeerTransport) {}

  /**
   * Introduces this node (`self`) to the peer, which dials back to check it.
   * A registration costs a proof-of-work stamp (issue 20: a free one let any
   * throw-away key make a node dial anything): minted at `bits`, and once
   * more at the peer's `stampBits` when it asks for more (up to MAX_REGISTER_BITS).
   */
  async register(self: {url: string}, options: RequestOptions & {bits: number}): Promise<Hello> {
    const identity = this.t.identity
    if (!identity) throw new InputError('registering needs a node identity to sign with')
    const origin = new URL(self.url).origin
    for (let bits = options.bits, attempt = 0; ; attempt++) {
      const stamp = await registerStamp(identity.did, origin, bits, options.signal, attempt > 0)
      const r = await this.t.request('POST', '/v1/peers/register', Buffer.from(JSON.stringify({url: self.url, stamp})), {...options, sign: true})
      const parsed = safeJson(r.body)
      const wanted = parsed?.stampBits
      // Refused once for its stamp (more bits wanted, or this node already spent the one reused): a fresh one, once.
      if (r.status === 403 && parsed?.error?.code === 'STAMP_REQUIRED' && attempt === 0 && Number.isInteger(wanted) && wanted <= MAX_REGISTER_BITS) {
        bits = Math.max(bits, wanted)
        continue
      }
      if (r.status !== 200) throw this.t.refusal(r)
      if (typeof parsed?.did !== 'string') throw new NetworkError(`${this.t.origin}/v1/peers/register: malformed answer`)
      return parsed
    }
  }

  /** Seed request (draft 000): the signed peer records the node knows, its own first; bytes still unverified. */
  async seed(options: RequestOptions & {limit?: number} = {}): Promise<Uint8Array[]> {
    const r = await this.t.json('GET', `/v1/seed${options.limit ? `?limit=${options.limit}` : ''}`, undefined, options)
    if (!Array.isArray(r?.records) || !r.records.every((x: unknown) => typeof x === 'string')) throw new NetworkError(`${this.t.origin}/v1/seed: malformed answer`)
    // A fresh node answers before its own record is minted: ask again shortly (its record is what we register with).
    if (r.minting === true) throw new NetworkError(`${this.t.origin} is still minting its peer record; ask again in a few seconds`, {code: 'MINTING'})
    return r.records.map((x: string) => Buffer.from(x, 'base64'))
  }

  /** Registers this node by its signed peer record; the peer dials back and answers with its own record. */
  async announce(record: Uint8Array, options: RequestOptions = {}): Promise<Uint8Array> {
    const r = await this.t.json('POST', '/v1/peers/announce', {record: Buffer.from(record).toString('base64')}, {...options, sign: true})
    if (typeof r?.record !== 'string') throw new NetworkError(`${this.t.origin}/v1/peers/announce: answered without a peer record`)
    return Buffer.from(r.record, 'base64')
  }

  /** Passes peer records on (gossip); the receiver checks each and keeps what is new. */
  gossip(records: Uint8Array[], options: RequestOptions = {}): Promise<{accepted: number}> {
    return this.t.json('POST', '/v1/peers/gossip', {records: records.map((b) => Buffer.from(b).toString('base64'))}, options)
  }

  /** The peers the peer lists (GET /v1/peers). */
  peers(options: RequestOptions = {}): Promise<{peers: Array<{did: string; url: string}>}> {
    return this.t.json('GET', '/v1/peers', undefined, options)
  }
}

/** Registration stamps minted lately, by signer, origin and bits: one pays for registering with every node (each spends it once). */
const registerStamps = new Map<string, Promise<{bits: number; nonce: string; time: number}>>()
/** A registration stamp is reused this long (receivers take one up to 10 minutes from their clock). */
const REGISTER_STAMP_REUSE_MS = 5 * 60_000

function registerStamp(signer: string, origin: string, bits: number, signal?: AbortSignal, fresh = false): Promise<{bits: number; nonce: string; time: number}> {
  const key = `${signer}\n${origin}\n${bits}`
  const now = Date.now()
  for (const [k, p] of registerStamps) p.then((s) => { if (now - s.time > REGISTER_STAMP_REUSE_MS) registerStamps.delete(k) }, () => registerStamps.delete(k))
  if (fresh) registerStamps.delete(key)
  let stamp = registerStamps.get(key)
  if (!stamp) {
    const time = now
    stamp = mintStamp(registerStampResource(signer, origin), time, bits, signal).then((s) => ({...s, time}))
    registerStamps.set(key, stamp)
    stamp.catch(() => registerStamps.delete(key))
  }
  return stamp
}
