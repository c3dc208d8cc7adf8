import {DEFAULT_STAMP_BITS} from '../records/stamp.js'
import {DEFAULT_LIMITS} from '../net/limits.js'

/** The node's settings (settings.json, serve flags; docs/operations.md "Settings"), and their defaults. */
export interface NodeSettings {
  replicas: number
  minReplicas: number
  repairIntervalMs: number
  pingIntervalMs: number
  /** Remote writes (push --node) are accepted from owners whose trust score here is at least this (issue 5). */
  trustThreshold: number
  /** Others must pay a proof-of-work stamp of this many bits per remote write. */
  writeStampBits: number
  /** How often the node fetches the trust records of identities within 3 hops of its owner. */
  trustSyncIntervalMs: number
  /** Inbound caps (limits.ts, issue 4): requests/s and burst per remote address (burst unset: 2 × rate). */
  rate: number
  burst?: number
  /** Open inbound connections before new ones get 503; per address (unset: a quarter of it; twice that per /24 or /48). */
  maxConnections: number
  maxConnectionsPerAddress?: number
  /** Inbound requests handled at once (per address: unset, a quarter), and how many may wait for a slot. */
  maxRequests: number
  maxRequestsPerAddress?: number
  maxQueue: number
  /** Time-outs on the public listener (limits.ts, issue 20 point 7): request heads, idle kept-alive connections, slow bodies, unread answers. */
  headersTimeoutMs: number
  keepAliveTimeoutMs: number
  bodyTimeoutMs: number
  answerStallMs: number
  /** Outgoing caps (net/peer/): persistent connections per peer, requests in flight to all peers. */
  peerConnections: number
  maxOutgoingRequests: number
  /** Anti-entropy for erasures: how often each peer's tombstone list is read (also once at start). */
  eraseSyncIntervalMs: number
  // Discovery (#4, discovery.ts; docs/operations.md "Settings").
  /** Hashcash difficulty of peer records: minted for our own, demanded of others'. */
  stampBits: number
  /** Nodes asked for peers at start (`serve --seed` adds to these). */
  seeds: string[]
  /** How often newly learned peer records are passed on, and to how many random peers. */
  gossipIntervalMs: number
  gossipFanout: number
  /** How often a random peer is asked for its peers (periodic pull). */
  pullIntervalMs: number
  /** Eclipse resistance: at most this many peers per IPv4 /24 (IPv6 /48) and /16 (IPv6 /32). */
  peersPer24: number
  peersPer16: number
  /** Apply those caps to loopback addresses too (tests; off: many nodes on one machine is normal). */
  limitLoopback: boolean
  maxPeers: number
  /** Records in a seed answer, and most records taken from one answer or gossip message. */
  seedAnswerMax: number
  /** A dead peer is retried this often, and forgotten after forgetDeadAfterMs. */
  deadRetryMs: number
  forgetDeadAfterMs: number
  /**
   * Whether a stranger may make this node dial loopback, private (RFC 1918),
   * CGNAT and unique-local addresses (registrations, announces, gossip).
   * null: yes when the host this node announces is itself one of those (a
   * node on a LAN or on loopback has its neighbours there), no otherwise
   * (issue 20; docs/protocol.md "What a node dials").
   */
  dialPrivate: boolean | null
  /** Largest object (record `size`) taken from others: remote writes and replications peers ask for (issue 20). */
  maxObjectBytes: number
}

export const DEFAULT_SETTINGS: NodeSettings = {
  replicas: 3,
  minReplicas: 1,
  repairIntervalMs: 30_000,
  pingIntervalMs: 10_000,
  trustThreshold: 0.1,
  writeStampBits: 19,
  trustSyncIntervalMs: 60_000,
  rate: DEFAULT_LIMITS.rate,
  maxConnections: DEFAULT_LIMITS.maxConnections,
  maxRequests: DEFAULT_LIMITS.maxRequests,
  maxQueue: DEFAULT_LIMITS.maxQueue,
  headersTimeoutMs: DEFAULT_LIMITS.headersTimeoutMs,
  keepAliveTimeoutMs: DEFAULT_LIMITS.keepAliveTimeoutMs,
  bodyTimeoutMs: DEFAULT_LIMITS.bodyTimeoutMs,
  answerStallMs: DEFAULT_LIMITS.answerStallMs,
  peerConnections: 8,
  maxOutgoingRequests: 512,
  eraseSyncIntervalMs: 30_000,
  stampBits: DEFAULT_STAMP_BITS,
  seeds: [],
  gossipIntervalMs: 1_000,
  gossipFanout: 3,
  pullIntervalMs: 60_000,
  peersPer24: 4,
  peersPer16: 16,
  limitLoopback: false,
  maxPeers: 1_000,
  seedAnswerMax: 64,
  deadRetryMs: 30 * 60_000,
  forgetDeadAfterMs: 24 * 60 * 60_000,
  dialPrivate: null,
  maxObjectBytes: 4 * 1024 ** 3,
}
