import type {PeerTransport, RequestOptions} from './transport.js'

/** An erase is sent with this time-out unless the caller names one. */
const ERASE_TIMEOUT_MS = 10_000

/** The erase routes of a peer (docs/protocol.md "Erase"): `peer.erase.send(erase, record)`. */
export class EraseClient {
  constructor(private readonly t: PeerTransport) {}

  /** Sends an erase record with the object record it erases (POST /v1/erase); the peer verifies both, applies, and forwards. */
  send(erase: Uint8Array, record: Uint8Array, options: RequestOptions = {}): Promise<{applied: boolean; records: number; blocks: number}> {
    return this.t.json('POST', '/v1/erase', {erase: Buffer.from(erase).toString('base64'), record: Buffer.from(record).toString('base64')}, {...options, timeoutMs: options.timeoutMs ?? ERASE_TIMEOUT_MS})
  }

  /** The peer's tombstones after its sequence number `after` (anti-entropy, GET /v1/erasures). */
  since(after: number, options: RequestOptions = {}): Promise<{erasures: Array<{seq: number; erase: string; record: string}>; next: number}> {
    return this.t.json('GET', `/v1/erasures?after=${after}`, undefined, options)
  }
}
