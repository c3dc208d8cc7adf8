import {setTimeout as delay} from 'node:timers/promises'
import {CID} from 'multiformats/cid'
import {IntegrityError, NetworkError} from '../errors.js'
import {Erasures} from '../erase/index.js'
import {HttpError} from '../net/http.js'
import {decodeObjectRecord} from '../records/index.js'
import {NETWORK_WRITER} from '../store/block-store.js'
import type {Store} from '../store/store.js'
import type {ClientFor, Log} from './components.js'
import {DynamicBlockSource} from './dynamic-source.js'
import {fetchObject, locateHolders, type Source} from './fetcher.js'
import {dropUnreferenced, SizedSource, trackingWriter} from './holding.js'
import type {PeerTable} from './peer-table.js'
import {rankNodes} from './placement.js'

/**
 * What replication and repair use of the node (a unit test passes fakes for
 * the peers and their clients): the store, the peer table, a client per
 * peer, the live peers as block sources, the log, and who this node is.
 */
export interface ReplicatorComponents {
  store: Store
  peers: Pick<PeerTable, 'live' | 'markFailure'> & ConstructorParameters<typeof DynamicBlockSource>[3]
  client: ClientFor
  /** Live peers as block sources. */
  sources(): Source[]
  log: Log
  /** This node's did, and the URL peers pull from it at. */
  did: string
  url: string
}

/** Records the replica count an object was pushed with; repair keeps it there. */
export function setReplicaTarget(ctx: Pick<ReplicatorComponents, 'store'>, root: CID | string, replicas: number): void {
  ctx.store.records.setReplicaTarget(String(root), replicas)
}

/**
 * While a peer replicates, it is sent a hello every REPLICA_PROBE_MS and must
 * answer each within that time. A peer whose packets are dropped (a partition
 * that black-holes, a machine gone without a reset) would otherwise hold a
 * push for the whole replicate time-out (10 min) before the next node in order
 * is asked (docs/chaos.md); a replication that is only slow (a big object)
 * goes on for as long as the peer answers.
 */
export const REPLICA_PROBE_MS = 5_000

/**
 * Asks `peer` to replicate the object (it pulls from us); true when it
 * answered `held`. Meanwhile it is sent a hello every REPLICA_PROBE_MS; one
 * that fails (no answer within REPLICA_PROBE_MS, a refused connection, an
 * error answer) ends the request at once.
 * @internal exported for tests
 */
export async function replicateTo(ctx: Pick<ReplicatorComponents, 'client' | 'url'>, peer: {did: string; url: string}, recordBytes: Uint8Array, k: number, signal?: AbortSignal): Promise<boolean> {
  const ac = new AbortController()
  const stop = () => ac.abort(signal!.reason)
  if (signal?.aborted) stop()
  signal?.addEventListener('abort', stop, {once: true})
  const client = ctx.client(peer)
  const probe = async () => {
    while (!ac.signal.aborted) {
      try {
        await client.hello({signal: ac.signal, timeoutMs: REPLICA_PROBE_MS})
      } catch (err) {
        if (!ac.signal.aborted) ac.abort(new NetworkError(`${peer.url} failed a hello while replicating (within ${REPLICA_PROBE_MS / 1000} s): ${(err as Error).message}`))
        return
      }
      await delay(REPLICA_PROBE_MS, undefined, {signal: ac.signal}).catch(() => {})
    }
  }
  void probe()
  try {
    return (await client.objects.replicate(recordBytes, [ctx.url], {signal: ac.signal, replicas: k})).held
  } finally {
    signal?.removeEventListener('abort', stop)
    ac.abort() // ends the probe
  }
}

export interface Placement {
  /** Distinct nodes (this one included) confirmed to hold every block. */
  replicas: number
  nodes: string[]
}

/**
 * Places an object this node holds on `k` nodes: itself plus peers in
 * rendezvous order, asking each to replicate (the peer pulls what it lacks
 * from us and answers once every block is durable). A peer that fails, or
 * does not answer a hello within REPLICA_PROBE_MS meanwhile, is skipped for
 * the next in order. Returns how many hold it.
 */
export async function placeReplicas(ctx: ReplicatorComponents, recordBytes: Uint8Array, k: number, signal?: AbortSignal): Promise<Placement> {
  const {record} = decodeObjectRecord(recordBytes)
  const holders = new Set<string>([ctx.did])
  const ranked = rankNodes(record.root, ctx.peers.live())
  let i = 0
  while (holders.size < k && i < ranked.length) {
    const batch = ranked.slice(i, i + (k - holders.size))
    i += batch.length
    await Promise.all(batch.map(async (peer) => {
      try {
        if (await replicateTo(ctx, peer, recordBytes, k, signal)) holders.add(peer.did)
      } catch (err) {
        ctx.peers.markFailure(peer.did)
        ctx.log(`replica of ${record.root} on ${peer.url} failed: ${(err as Error).message}`)
      }
    }))
  }
  return {replicas: holders.size, nodes: [...holders]}
}

/**
 * Passes an object may stay short of `k` before the holder ranked i-th among
 * the holders (0 = the leader) repairs it itself, after i × this many. The
 * leader may never act: `has` sees the root block, so a node that only pulled
 * the object (blocks, no record) counts as a holder, but it does not repair
 * objects it holds no record of.
 */
export const REPAIR_DEFER_PASSES = 3
const shortPasses = new WeakMap<ReplicatorComponents, Map<string, number>>()

/**
 * One pass of the repair loop: for every object held here, count the live
 * nodes that hold it, and if fewer than `k` do, place more. The first holder
 * in rendezvous order acts at once, the others only if it stays short
 * (REPAIR_DEFER_PASSES), so holders do not all repair at once.
 */
export async function repairOnce(ctx: ReplicatorComponents, k: number, signal?: AbortSignal): Promise<{checked: number; repaired: number}> {
  const roots = ctx.store.records.heldObjects()
  const live = ctx.peers.live()
  if (roots.length === 0) return {checked: 0, repaired: 0}
  const cids = roots.map((r) => CID.parse(r.root))
  // One batched `has` per peer for all roots (chunks of 1024).
  const holdings = new Map<string, boolean[]>()
  await Promise.all(live.map(async (peer) => {
    const have: boolean[] = []
    try {
      for (let i = 0; i < cids.length; i += 1024) have.push(...await ctx.client(peer).blocks.has(cids.slice(i, i + 1024), {signal, timeoutMs: 5_000}))
      holdings.set(peer.did, have)
    } catch {
      ctx.peers.markFailure(peer.did)
    }
  }))
  let waiting = shortPasses.get(ctx)
  if (!waiting) shortPasses.set(ctx, (waiting = new Map()))
  let repaired = 0
  for (let j = 0; j < roots.length; j++) {
    signal?.throwIfAborted()
    const root = cids[j]
    const key = roots[j].root
    const reachable = live.filter((p) => holdings.has(p.did))
    const holders = reachable.filter((p) => holdings.get(p.did)![j])
    const kj = roots[j].k ?? k
    if (!ctx.store.blocks.has(root) || holders.length + 1 >= kj) {
      waiting.delete(key)
      continue
    }
    const order = rankNodes(root, [...holders, {did: ctx.did}])
    const passes = (waiting.get(key) ?? 0) + 1
    waiting.set(key, passes)
    if (passes <= order.findIndex((n) => n.did === ctx.did) * REPAIR_DEFER_PASSES) continue // another holder leads this repair
    const bytes = ctx.store.records.bytesOf(roots[j].record)
    if (!bytes) continue
    const targets = rankNodes(root, reachable.filter((p) => !holdings.get(p.did)![j]))
    let count = holders.length + 1
    for (const peer of targets) {
      if (count >= kj) break
      try {
        if (await replicateTo(ctx, peer, bytes, kj, signal)) count++
      } catch (err) {
        ctx.peers.markFailure(peer.did)
        ctx.log(`repair of ${root} on ${peer.url} failed: ${(err as Error).message}`)
      }
    }
    if (count > holders.length + 1) {
      repaired++
      ctx.log(`repaired ${root}: ${count} replicas`)
    }
  }
  return {checked: roots.length, repaired}
}

/**
 * POST /v1/replicate on this side: pulls the object of a record a peer asked
 * this node to hold, from that peer first and the live holders among the
 * others, verifying every block and fetching no more than the record's size
 * (holding.ts). Refuses (410) a record erased meanwhile; an object whose
 * blocks cannot make it loses the blocks it brought (IntegrityError).
 */
export async function replicate(ctx: ReplicatorComponents, root: CID, recordBytes: Uint8Array, from: {did: string; url: string}): Promise<{held: boolean; blocks: number}> {
  const {cid: recordCid, record} = decodeObjectRecord(recordBytes)
  const {writer, appended} = trackingWriter(ctx.store.blocks.writer(NETWORK_WRITER))
  const own = {did: from.did, client: ctx.client(from)}
  const others = ctx.sources().filter((s) => s.did !== from.did)
  const source = new DynamicBlockSource(ctx.store, [own, ...(await locateHolders(root, others)).holders], writer, ctx.peers, ctx.log, root)
  source.batching = true
  try {
    // Up to the record's size (holding.ts): a record cannot make this node fetch more than it declares.
    await fetchObject(root, new SizedSource(source, root, record.size))
    await source.finish()
  } catch (err) {
    await writer.close().catch(() => {})
    // Blocks that cannot make the record's object are no object's: removed. A network failure
    // keeps every verified block, so that a retry (the pusher's, or repair) resumes.
    if (err instanceof IntegrityError) {
      const dropped = dropUnreferenced(ctx.store, appended)
      if (dropped.blocks) ctx.log(`replication of ${root} refused (${err.message}): removed ${dropped.blocks} block(s) it had fetched`)
    }
    throw err
  }
  await writer.close()
  const erasures = new Erasures(ctx.store)
  if (erasures.isErased(recordCid)) {
    // Erased while its blocks were on their way: give them back, refuse the record.
    erasures.sweep(root)
    throw new HttpError(410, 'ERASED', `${root} (record ${recordCid}) was erased by its owner while it was being replicated`)
  }
  ctx.store.records.putObject(recordBytes)
  return {held: ctx.store.blocks.has(root), blocks: source.fetched}
}
