import {NotFoundError} from '../../errors.js'
import type {PeerTransport, RequestOptions} from './transport.js'

/** The web-of-trust routes of a peer (docs/protocol.md "Trust records and scores"): `peer.trust.put(record)`. Records come back unverified: the caller verifies them. */
export class TrustClient {
  constructor(private readonly t: PeerTransport) {}

  /** Publishes a signed trust record (POST /v1/trust); the peer verifies it and passes it on if it is new. */
  put(record: Uint8Array, options: RequestOptions = {}): Promise<{owner: string; cid: string; stored: boolean}> {
    return this.t.json('POST', '/v1/trust', {record: Buffer.from(record).toString('base64')}, options)
  }

  /** The trust records the peer holds for these dids (POST /v1/trust/get). */
  get(dids: string[], options: RequestOptions = {}): Promise<{records: unknown}> {
    return this.t.json('POST', '/v1/trust/get', {dids}, options)
  }

  /** The peer's copy of `did`'s trust record (base64), or null when it has none. */
  async record(did: string, options: RequestOptions = {}): Promise<string | null> {
    try {
      return (await this.t.json('GET', `/v1/trust/${did}`, undefined, options))?.record ?? null
    } catch (err) {
      if (err instanceof NotFoundError) return null
      throw err
    }
  }

  /** `did`'s trust score as the peer computes it from `from`, with paths. */
  score(did: string, from: string, options: RequestOptions = {}): Promise<{did: string; score: number; paths: unknown; pathCount?: number}> {
    return this.t.json('GET', `/v1/trust/${did}/score?from=${encodeURIComponent(from)}`, undefined, options)
  }
}
