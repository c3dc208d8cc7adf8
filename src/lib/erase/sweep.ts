import * as dagPb from '@ipld/dag-pb'
import {CID} from 'multiformats/cid'
import {DAG_PB_CODE, MAX_DAG_DEPTH} from '../content/constants.js'
import type {Store} from '../store/store.js'

/**
 * Calls `visit` for every block of the DAG under `root` that this store
 * holds, descending through dag-pb nodes (raw leaves have no links). A node
 * that is missing or fails verification is not descended into: its links
 * cannot be trusted, so nothing under it is reached through it.
 * `visit` returning false stops the walk.
 */
function walkHeld(store: Store, root: CID, seen: Set<string>, visit: (cid: CID, key: string) => boolean): boolean {
  const stack: Array<[CID, number]> = [[root, 0]]
  while (stack.length > 0) {
    const [cid, depth] = stack.pop()!
    const key = cid.toString()
    if (seen.has(key)) continue
    seen.add(key)
    if (!store.blocks.has(cid)) continue
    if (!visit(cid, key)) return false
    if (cid.code !== DAG_PB_CODE || depth >= MAX_DAG_DEPTH) continue
    let links: CID[]
    try {
      links = dagPb.decode(store.blocks.get(cid)).Links.map((l) => l.Hash)
    } catch {
      continue
    }
    for (const l of links) stack.push([l, depth + 1])
  }
  return true
}

/**
 * Mark and sweep for one erased object: the blocks of the DAG under `root`
 * held here that nothing remaining here needs. Candidates are the erased
 * DAG's blocks; every DAG of a live record (kind 'object') and of each root
 * in `alsoKeep` (the node's pulled copies, erase/erasures.ts) is walked and
 * marks what it reaches; the unmarked candidates are returned. Blocks of
 * other objects are never candidates, and a block that another pulled copy
 * reaches is kept, so an erase naming a leaf of someone else's object as its
 * root (anyone can sign such a record) takes nothing from that object.
 */
export function unneededBlocks(store: Store, root: CID, alsoKeep: string[] = []): CID[] {
  const candidates = new Map<string, CID>()
  walkHeld(store, root, new Set(), (cid, key) => {
    candidates.set(key, cid)
    return true
  })
  if (candidates.size === 0) return []
  const liveRoots = store.records.liveRoots()
  const marked = new Set<string>()
  for (const text of new Set([...liveRoots, ...alsoKeep])) {
    let live: CID
    try {
      live = CID.parse(text)
    } catch {
      continue
    }
    const more = walkHeld(store, live, marked, (_cid, key) => {
      candidates.delete(key)
      return candidates.size > 0
    })
    if (!more) break
  }
  return [...candidates.values()]
}
