import type {Store} from '../store/store.js'

/**
 * True when an erase left work behind on this store: a sweep a crash cut
 * short (that needs no network) or a compaction owed. One cheap query, run at
 * every store open by the CLI.
 */
export function eraseWorkOwed(store: Store): boolean {
  return store.db.prepare(`SELECT 1 FROM maintenance WHERE task = 'compact'
    UNION ALL SELECT 1 FROM erasures WHERE sweep = 'record' LIMIT 1`).get() !== undefined
}

/**
 * Finishes what an erase killed part way left on this store (issue 20 point
 * 4), at the next open without a node (a node does it when it starts:
 * network.ts resumeErasures): the sweeps that need no network, then the owed
 * compaction, so the erased bytes leave the disk. Cache decisions, which need
 * the peers, wait for the node.
 */
export async function finishEraseWork(store: Store): Promise<{blocks: number; reclaimed: number}> {
  if (!eraseWorkOwed(store)) return {blocks: 0, reclaimed: 0}
  const [{Erasures}, {finishCompaction}] = await Promise.all([import('./erasures.js'), import('../store/compact.js')])
  const blocks = new Erasures(store).finishPending()
  const {reclaimed} = await finishCompaction(store.blocks)
  return {blocks, reclaimed}
}
