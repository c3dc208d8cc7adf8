import {BlocksClient} from './blocks.js'
import {DiscoveryClient} from './discovery.js'
import {EraseClient} from './erase.js'
import {NatClient} from './nat.js'
import {ObjectsClient} from './objects.js'
import {TrustClient} from './trust.js'
import {type Hello, PeerTransport, type RequestOptions, type TransportOptions} from './transport.js'

export {BlocksClient, DiscoveryClient, EraseClient, NatClient, ObjectsClient, TrustClient}
export {CONNECTIONS_PER_PEER, MAX_ANSWER_BYTES, MAX_RETRIES, MAX_RETRY_AFTER_MS, PeerTransport, REQUEST_TIMEOUT_MS, retryAfterMs} from './transport.js'
export type {Exchange, Hello, RequestOptions, TransportOptions} from './transport.js'
export type {Answer} from './answers.js'
export type {BulkFrame} from './bulk.js'
export {OutgoingGate, outgoingCounters} from './gate.js'

export type PeerClientOptions = TransportOptions

/**
 * A client for one peer's public API (docs/protocol.md "Peer protocol"):
 * one transport (transport.ts: connections, signing, the gate, retries,
 * time-outs, caps) and a typed sub-client per concern, so a call site says
 * what it asks for — `peer.blocks.get(cid)`, `peer.discovery.seed()`,
 * `peer.objects.replicate(record, sources)`. A block is checked against its
 * CID (and the 2 MiB cap) before it is returned, except by the calls whose
 * name says "unverified", which leave that to the caller.
 */
export class PeerClient {
  readonly origin: string
  readonly blocks: BlocksClient
  readonly discovery: DiscoveryClient
  readonly objects: ObjectsClient
  readonly trust: TrustClient
  readonly erase: EraseClient
  readonly nat: NatClient
  private readonly transport: PeerTransport

  constructor(url: string, options: PeerClientOptions = {}) {
    const t = new PeerTransport(url, options)
    this.transport = t
    this.origin = t.origin
    this.blocks = new BlocksClient(t)
    this.discovery = new DiscoveryClient(t)
    this.objects = new ObjectsClient(t)
    this.trust = new TrustClient(t)
    this.erase = new EraseClient(t)
    this.nat = new NatClient(t)
  }

  /** GET /v1/hello: who answers here; its did must be a did:key, and signed requests are addressed to it. */
  hello(options: RequestOptions = {}): Promise<Hello> {
    return this.transport.hello(options)
  }

  /** Ends the connections once the requests in flight are answered. */
  close(): Promise<void> {
    return this.transport.close()
  }

  /** Ends the connections now; requests in flight fail. */
  destroy(): Promise<void> {
    return this.transport.destroy()
  }
}
