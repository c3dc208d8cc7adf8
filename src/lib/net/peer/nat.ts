import {NetworkError} from '../../errors.js'
import type {PeerTransport, RequestOptions} from './transport.js'

/** The NAT test route of a peer (docs/protocol.md, `POST /v1/nat/dialback`): `peer.nat.dialback(url)`. */
export class NatClient {
  constructor(private readonly t: PeerTransport) {}

  /** Asks the peer to dial back to `url` (our announced address; nat-test): what it saw and whether it got through. */
  async dialback(url: string, options: RequestOptions = {}): Promise<{reachable: boolean; url: string; observed: string | null; reason: string | null}> {
    const r = await this.t.json('POST', '/v1/nat/dialback', {url}, {...options, sign: true})
    if (typeof r?.reachable !== 'boolean') throw new NetworkError(`${this.t.origin}: malformed dial-back answer`)
    return {reachable: r.reachable, url: String(r.url ?? url), observed: typeof r.observed === 'string' ? r.observed : null, reason: typeof r.reason === 'string' ? r.reason : null}
  }
}
