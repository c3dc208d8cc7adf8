/**
 * What a polar command acts on (DESIGN.md "Processes"), as one interface with
 * three implementations beside it: the node running on this home or named by
 * its socket (local.ts, the local API over the unix socket), a remote node's
 * public API (remote.ts, `--node URL`), or this home's store opened in-process
 * (embedded.ts, "standalone" in the design). A command builds one with
 * `openClient()` (PolarCommand.client() does) and calls one method of it;
 * which target it is, and what each target can and cannot do, is the
 * implementation's business, never the command's (issue 14 point 4).
 *
 * Only this file and the chosen implementation load for a command: the
 * implementations import what each method needs lazily, so a scripted call
 * through a node never loads the store, undici or the trust codec
 * (STYLE.md rule 7; docs/benchmarks.md, "scripted calls via a local node").
 */
import type {EraseResult} from '../erase/index.js'
import type {NatReport} from '../nat/index.js'
import type {PushResult} from '../objects/index.js'
import type {TrustEntry} from '../records/trust-record.js'
import type {SearchReport} from '../search/index.js'
import type {TrustChange} from '../trust/change.js'
import type {TrustPath} from '../trust/score.js'
import type {PullResult} from '../util/output.js'
import type {Writable} from 'node:stream'

export type {EraseResult, NatReport, PullResult, PushResult, SearchReport, TrustChange, TrustEntry}

/** Every call takes an optional signal (STYLE.md); an aborted one rejects with an AbortError before anything is sent or changed. */
export interface CallOptions {
  signal?: AbortSignal
}

export interface ClientPushInput extends CallOptions {
  /** A file path, or '-' for standard input. */
  file: string
  name?: string
  tags?: string[]
  mime?: string
  /** Name of the identity in POLAR_HOME/keys that signs the record (created when it is `default` and missing). */
  key: string
  /** Nodes to place the object on [the node's setting]. */
  replicas?: number
  /** Fewer holders than this: NetworkError TOO_FEW_REPLICAS (exit 5). */
  minReplicas: number
  /** Root CID of an earlier version to delta-encode against, or 'none' (not on a remote node). */
  base?: string
  /** The most proof-of-work to do when a remote node asks for a stamp (remote only). */
  maxStampBits?: number
  /** Bytes read so far (the embedded store reports it; a node does not). */
  onProgress?: (event: {bytes: number; total?: number}) => void
}

export interface ClientPullInput extends CallOptions {
  cid: string
  /** Write here (a file atomically; a FIFO or device straight into: util/output-target.ts); otherwise to `stdout`. */
  output?: string
  stdout?: Writable
  /** Print to a terminal even when the object looks binary. */
  force?: boolean
  /** Bytes written so far (the embedded store reports it). */
  onProgress?: (event: {bytes: number; total?: number}) => void
}

export interface ClientSearchInput extends CallOptions {
  query?: string
  tags?: string[]
  owner?: string
  limit?: number
}

/** One row of `polar peers` (CLI.md); `peers --watch` shows the same rows. */
export interface PeerRow {
  did: string
  url: string
  services: string
  lastSeen: number
  rttMs: number | null
  state: string
}

export interface SeedReport {
  asked: number
  answered: number
  learned: number
  registered: number
  errors: Array<{url: string; error: string}>
  peers?: Array<{did: string; urls: string[]; services: string}>
}

export interface TrustChangeResult {
  owner: string
  trusts: TrustEntry[]
  record: string
  stored: boolean
}

export interface ScoreResult {
  did: string
  score: number
  /** The largest contributing paths, at most 100. */
  paths: TrustPath[]
  /** How many paths contribute in all. */
  pathCount: number
}

/**
 * What human output says about the target (the command renders; the
 * implementation knows where the work happened).
 */
export interface TargetNotes {
  /** Names the target in `peers --watch`'s title. */
  readonly source: string
  /** Appended to push's summary line on stderr ('' through a node). */
  readonly pushed: string
  /** Appended to erase's summary line on stderr. */
  readonly erased: string
  /** Said on stderr after a seed that registered nothing here (undefined when the node registered the peers). */
  readonly seeded?: string
}

/**
 * The operations of the polar commands, one method each. An operation a target
 * cannot do (`peers add` on a remote node, `nat-test` on the embedded store…)
 * rejects with an InputError that says what it needs.
 */
export interface PolarClient {
  readonly notes: TargetNotes
  /** Stores a file or stdin as a signed object and places it (push). */
  push(input: ClientPushInput): Promise<PushResult>
  /** Fetches an object, verifying every block, to stdout or `output` (pull). */
  pull(input: ClientPullInput): Promise<PullResult>
  /** Signs erase records for the object's records `key` owns and applies them (erase). */
  erase(input: {cid: string; key: string} & CallOptions): Promise<EraseResult>
  /** Object records matching the query, ranked by the trust of this home's default identity (search). */
  search(input: ClientSearchInput): Promise<SearchReport>
  /** `key`'s current trust record, verified (trust ls). */
  listTrust(key: string, options?: CallOptions): Promise<{owner: string; trusts: TrustEntry[]}>
  /** Re-signs `key`'s trust record with the change and publishes it (trust add, trust rm). */
  changeTrust(key: string, change: TrustChange, options?: CallOptions): Promise<TrustChangeResult>
  /** How much `key`'s identity trusts `did`, and through which paths (trust score). */
  scoreTrust(key: string, did: string, options?: CallOptions): Promise<ScoreResult>
  /** Asks seed nodes for their peers; a node registers with the new ones (seed). */
  seed(urls: string[], options?: CallOptions): Promise<SeedReport>
  /** The peer table (peers). */
  listPeers(options?: CallOptions): Promise<PeerRow[]>
  /** The node contacts `url`, learns its did, and both record each other (peers add). */
  addPeer(url: string, options?: CallOptions): Promise<{did: string; url: string; state: string}>
  /** peers rm. */
  removePeer(did: string, options?: CallOptions): Promise<{did: string; removed: boolean}>
  /** peers ping: the round trip to a peer in the table. */
  pingPeer(did: string, options?: CallOptions): Promise<{did: string; url: string; rttMs: number}>
  /** Asks a peer (`via`, or some from the table) to dial back to the node's announced URL (nat-test). */
  natTest(via: string[], options?: CallOptions): Promise<NatReport>
  /** Releases what the client holds (the embedded store). */
  close(): Promise<void>
}

export interface ClientInit {
  /** POLAR_HOME of this invocation: its keys sign, its settings and (embedded) its store are used. */
  home: string
  /** --node / POLAR_NODE: a node's public URL (http/https) or its socket path. */
  node?: string
  /** Warnings on stderr (the embedded store warns about pack files its index does not know). */
  warn?: (message: string) => void
}

/**
 * The client for this invocation (PolarCommand.client()): `node` starting
 * with http:// or https:// is a remote node (that URL's origin; a malformed
 * one is BAD_INPUT), any other `node` a node's socket; else the node running
 * on `home` when its socket answers, else the embedded store.
 */
export async function openClient(init: ClientInit): Promise<PolarClient> {
  if (init.node) {
    if (/^https?:\/\//i.test(init.node)) {
      const {RemoteNodeClient} = await import('./remote.js')
      return new RemoteNodeClient(init.node, init)
    }
    const {LocalNodeClient} = await import('./local.js')
    return new LocalNodeClient(init.node, init)
  }
  const {liveNodeSocket} = await import('../util/socket.js')
  const socket = await liveNodeSocket(init.home)
  if (socket) {
    const {LocalNodeClient} = await import('./local.js')
    return new LocalNodeClient(socket, init)
  }
  const {EmbeddedClient} = await import('./embedded.js')
  return new EmbeddedClient(init)
}
