import {CID} from 'multiformats/cid'
import {walkHeld} from '../content/dag-links.js'
import type {Store} from '../store/store.js'

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
  walkHeld(store.blocks, root, new Set(), (cid, key) => {
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
    const more = walkHeld(store.blocks, live, marked, (_cid, key) => {
      candidates.delete(key)
      return candidates.size > 0
    })
    if (!more) break
  }
  return [...candidates.values()]
}
