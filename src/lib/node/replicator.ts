import {setTimeout as delay} from 'node:timers/promises'
import {CID} from 'multiformats/cid'
import {NetworkError} from '../errors.js'
import {decodeObjectRecord} from '../records/index.js'
import type {NodeContext} from './context.js'
import {rankNodes} from './placement.js'

/** Records the replica count an object was pushed with; repair keeps it there. */
export function setReplicaTarget(ctx: NodeContext, root: CID | string, replicas: number): void {
  ctx.store.db.prepare('INSERT OR REPLACE INTO object_replicas (root, replicas) VALUES (?, ?)').run(String(root), replicas)
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
export async function replicateTo(ctx: NodeContext, peer: {did: string; url: string}, recordBytes: Uint8Array, k: number, signal?: AbortSignal): Promise<boolean> {
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
export async function placeReplicas(ctx: NodeContext, recordBytes: Uint8Array, k: number, signal?: AbortSignal): Promise<Placement> {
  const {record} = decodeObjectRecord(recordBytes)
  const holders = new Set<string>([ctx.identity.did])
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
const shortPasses = new WeakMap<NodeContext, Map<string, number>>()

/**
 * One pass of the repair loop: for every object held here, count the live
 * nodes that hold it, and if fewer than `k` do, place more. The first holder
 * in rendezvous order acts at once, the others only if it stays short
 * (REPAIR_DEFER_PASSES), so holders do not all repair at once.
 */
export async function repairOnce(ctx: NodeContext, k: number, signal?: AbortSignal): Promise<{checked: number; repaired: number}> {
  const roots = ctx.store.db.prepare(`SELECT r.root, max(r.cid) AS record, o.replicas AS k FROM records r LEFT JOIN object_replicas o ON o.root = r.root
    WHERE r.kind = 'object' GROUP BY r.root`).all() as Array<{root: string; record: string; k: number | null}>
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
    const order = rankNodes(root, [...holders, {did: ctx.identity.did}])
    const passes = (waiting.get(key) ?? 0) + 1
    waiting.set(key, passes)
    if (passes <= order.findIndex((n) => n.did === ctx.identity.did) * REPAIR_DEFER_PASSES) continue // another holder leads this repair
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
