import {createHash} from 'node:crypto'
import type {CID} from 'multiformats/cid'

/**
 * Rendezvous (highest-random-weight) hashing, Thaler & Ravishankar 1998:
 * every node ranks candidates by sha-256(root CID ‖ did) and the top K hold the
 * object. Any node computes the same order from the same membership, and a
 * node leaving moves only the objects it held.
 */
export function rankNodes<T extends {did: string}>(root: CID, nodes: T[]): T[] {
  const scored = nodes.map((n) => ({n, w: createHash('sha256').update(root.bytes).update(n.did).digest()}))
  scored.sort((a, b) => Buffer.compare(b.w, a.w) || (a.n.did < b.n.did ? -1 : 1))
  return scored.map((s) => s.n)
}
