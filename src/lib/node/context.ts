import type {Identity} from '../identity/index.js'
import type {ReplayGuard} from '../net/auth.js'
import type {PeerClient} from '../net/peer/index.js'
import type {Store} from '../store/store.js'
import type {Log, Source} from './fetcher.js'
import type {PeerTable} from './peer-table.js'
import type {Discovery} from './discovery.js'
import type {NodeSettings} from './node-settings.js'

export {DEFAULT_SETTINGS, type NodeSettings} from './node-settings.js'

/** What the node's APIs and loops share (built once by PolarNode, the composition root). */
export interface NodeContext {
  readonly home: string
  readonly store: Store
  /** The node's own identity (signs peer requests), and its did. */
  readonly identity: Identity
  readonly did: string
  readonly peers: PeerTable
  /** The URL peers are told to reach this node at. */
  readonly url: string
  readonly settings: NodeSettings
  readonly guard: ReplayGuard
  log: Log
  /** A pooled client for a peer's public API; one from the table is dialled at its `address` only. */
  client(peer: {url: string; address?: string | null}): PeerClient
  /** Live peers as block sources. */
  sources(): Source[]
  /** Runs `work` as an in-flight write that shutdown waits for. */
  track<T>(work: Promise<T>): Promise<T>
  /** Pings peers not marked alive (or only `did`) now, out of turn; true when one came back. */
  reping?(did?: string): Promise<boolean>
  /** Cap counters (inbound limits and outgoing client), for the status route. */
  limits?(): Record<string, unknown>
  /** Peer records, seed requests, gossip and liveness (discovery.ts). */
  discovery: Discovery
}
