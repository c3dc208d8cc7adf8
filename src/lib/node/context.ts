import type {Identity} from '../identity/index.js'
import type {ReplayGuard} from '../net/auth.js'
import type {PeerClient} from '../net/client.js'
import type {Store} from '../store/store.js'
import type {Log, Source} from './fetcher.js'
import type {PeerTable} from './peer-table.js'

/** What the node's APIs and loops share (built once by PolarNode, the composition root). */
export interface NodeContext {
  readonly home: string
  readonly store: Store
  /** The node's own identity (signs peer requests). */
  readonly identity: Identity
  readonly peers: PeerTable
  /** The URL peers are told to reach this node at. */
  readonly url: string
  readonly settings: NodeSettings
  readonly guard: ReplayGuard
  log: Log
  /** A pooled client for a peer's public API. */
  client(peer: {url: string}): PeerClient
  /** Live peers as block sources. */
  sources(): Source[]
  /** Runs `work` as an in-flight write that shutdown waits for. */
  track<T>(work: Promise<T>): Promise<T>
  /** Pings peers not marked alive (or only `did`) now, out of turn; true when one came back. */
  reping?(did?: string): Promise<boolean>
}

export interface NodeSettings {
  replicas: number
  minReplicas: number
  repairIntervalMs: number
  pingIntervalMs: number
  /** Anti-entropy for erasures: how often each peer's tombstone list is read (also once at start). */
  eraseSyncIntervalMs: number
}

export const DEFAULT_SETTINGS: NodeSettings = {
  replicas: 3,
  minReplicas: 1,
  repairIntervalMs: 30_000,
  pingIntervalMs: 10_000,
  eraseSyncIntervalMs: 30_000,
}
