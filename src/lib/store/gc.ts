import * as dagPb from '@ipld/dag-pb'
import {statSync} from 'node:fs'
import {CID} from 'multiformats/cid'
import {DAG_PB_CODE, MAX_DAG_DEPTH} from '../content/constants.js'
import {IntegrityError, PolarError} from '../errors.js'
import {HOLDER, holderIsDead} from '../util/process.js'
import {compactionDue, compactPacks, markCompactionDue, COMPACT_MIN_DEAD_BYTES} from './compact.js'
import type {Store} from './store.js'

/**
 * gc rewrites a pack once this share of it is dead (compaction after an erase
 * waits for half, COMPACT_DEAD_RATIO): asking for gc is asking for the space.
 * A pack less dead than this keeps its dead bytes (reported as `deadLeft`).
 */
export const GC_DEAD_RATIO = 0.1

export interface GcOptions {
  /** Count what would go and what compaction would give back; change nothing. */
  dryRun?: boolean
  signal?: AbortSignal
}

export interface GcResult {
  dryRun: boolean
  /** Blocks no record or pulled copy needs, dropped from the index (or that would be). */
  blocks: number
  /** Their stored (encoded) bytes. */
  bytes: number
  /** Unneeded blocks kept: pinned by a live writer (a push or fetch under way), or the base of a delta that stays. */
  kept: {pinned: number; bases: number}
  /** Bytes of pack files given back to the file system (with --dry-run: what compaction would give back). */
  freed: number
  /** Packs rewritten or removed (would be). */
  packs: number
  /** Dead bytes left in packs after gc: packs less than GC_DEAD_RATIO dead, or leased by a live writer. */
  deadLeft: number
}

class DryRun extends Error {}

/**
 * Reclaims the blocks no record or base needs (issue 19, point 5;
 * docs/storage.md "Garbage collection"): what a killed push or pull left, and
 * what an erase kept because a writer had it pinned. Mark and sweep through
 * BlockStore.deleteBlocks, the one way blocks leave the store, with the mark
 * run inside its IMMEDIATE transaction: a record committed before it is seen,
 * none can commit during it. Blocks pinned by a live writer (a push or
 * replication under way, whose record is not stored yet) and the bases of
 * deltas that stay are kept by deleteBlocks itself; a dead writer's pins (a
 * killed push) are dropped there. Then compaction (compact.ts) gives the
 * space back, owed in `maintenance` first so that a kill between the sweep
 * and the compaction leaves it to the next store open or node start.
 *
 * Crash safety: the sweep is one transaction (a kill changes nothing or all
 * of it, and every block a record reaches is marked), and compaction keeps
 * every index row pointing at whole, fsynced bytes (docs/storage.md).
 */
export async function collectGarbage(store: Store, options: GcOptions = {}): Promise<GcResult> {
  const {db, blocks} = store
  const result: GcResult = {dryRun: Boolean(options.dryRun), blocks: 0, bytes: 0, kept: {pinned: 0, bases: 0}, freed: 0, packs: 0, deadLeft: 0}
  const sweep = () => {
    assertNoNode(store)
    const r = blocks.deleteBlocks(() => unneeded(store))
    result.blocks = r.deleted
    result.bytes = r.bytes
    result.kept = {pinned: r.pinned.length, bases: r.kept.length}
  }
  if (options.dryRun) {
    // The real sweep in a transaction rolled back: the counts are exactly what gc would do now.
    try {
      db.transaction(() => {
        sweep()
        const dead = deadBytesByPack(store)
        for (const d of dead) {
          if (compacts(d)) {
            result.freed += d.dead
            result.packs++
          } else result.deadLeft += d.dead
        }
        throw new DryRun()
      }).immediate()
    } catch (err) {
      if (!(err instanceof DryRun)) throw err
    }
    return result
  }
  options.signal?.throwIfAborted()
  markCompactionDue(db)
  sweep()
  const gen = compactionDue(db)
  const c = await compactPacks(blocks, {deadRatio: GC_DEAD_RATIO, minDeadBytes: COMPACT_MIN_DEAD_BYTES, signal: options.signal})
  // Cleared only for the generation this pass saw: an erase meanwhile leaves its own owed.
  if (c.deferred === 0 && gen !== undefined) db.prepare("DELETE FROM maintenance WHERE task = 'compact' AND gen = ?").run(gen)
  result.freed = c.reclaimed
  result.packs = c.packs
  result.deadLeft = deadBytesByPack(store).reduce((n, d) => n + d.dead, 0)
  return result
}

/**
 * A node running on this home caches pack descriptors and runs its own
 * writers; an embedded gc beside it could compact a pack under it. gc then
 * goes through the node's local API (which calls collectGarbage in the node).
 * Checked inside the sweep's transaction (a node's lock is taken in one).
 */
function assertNoNode(store: Store): void {
  const holder = store.db.prepare('SELECT holder FROM node_lock WHERE id = 1').pluck().get() as string | undefined
  if (holder && holder !== HOLDER && !holderIsDead(holder)) {
    throw new PolarError(`a node (${holder}) holds the store of ${store.home}, but its local API (polar.sock) does not answer; ` +
      'run `polar gc` again once it answers (gc then runs in the node), or stop it first', {code: 'NODE_RUNNING'})
  }
}

/**
 * The mark: every indexed block that no record's DAG and no pulled copy
 * (erase/erasures.ts) reaches. A dag-pb node of a record's DAG that is held
 * but does not verify or decode, or a missing interior node under a held
 * root, hides what lies below it: gc then deletes nothing (it could not tell
 * that object's blocks from garbage) and says which object to heal.
 */
function unneeded(store: Store): CID[] {
  const {db, blocks} = store
  const recordRoots = db.prepare('SELECT DISTINCT root FROM records WHERE root IS NOT NULL').pluck().all() as string[]
  const pulledRoots = db.prepare('SELECT root FROM pulled').pluck().all() as string[]
  const marked = new Set<string>()
  const walk = (text: string, strict: boolean) => {
    let root: CID
    try {
      root = CID.parse(text)
    } catch {
      return
    }
    if (!blocks.has(root)) return // nothing of it is held, or a fetch under way (its blocks are pinned)
    const stack: Array<[CID, number]> = [[root, 0]]
    while (stack.length > 0) {
      const [cid, depth] = stack.pop()!
      const key = cid.toString()
      if (marked.has(key)) continue
      if (!blocks.has(cid)) {
        if (strict && cid.code === DAG_PB_CODE) throw damaged(text, cid, 'is missing')
        continue
      }
      marked.add(key)
      if (cid.code !== DAG_PB_CODE || depth >= MAX_DAG_DEPTH) continue
      let links: CID[]
      try {
        links = dagPb.decode(blocks.get(cid)).Links.map((l) => l.Hash)
      } catch (err) {
        if (strict) throw damaged(text, cid, `does not verify (${(err as Error).message})`)
        continue
      }
      for (const l of links) stack.push([l, depth + 1])
    }
  }
  for (const root of recordRoots) walk(root, true)
  // A pulled copy may be partial (a pull killed part way): what it reaches stays, the rest is garbage.
  for (const root of pulledRoots) walk(root, false)
  const out: CID[] = []
  for (const bytes of db.prepare('SELECT cid FROM blocks').pluck().iterate() as Iterable<Uint8Array>) {
    const cid = CID.decode(new Uint8Array(bytes))
    if (!marked.has(cid.toString())) out.push(cid)
  }
  return out
}

function damaged(root: string, cid: CID, what: string): PolarError {
  return new IntegrityError(`block ${cid} of object ${root} ${what}: gc deleted nothing, since it cannot see which blocks that object needs; ` +
    'pull the object through a node to heal it (or `polar repair`, then pull it), then run gc again')
}

interface PackDead {
  id: number
  file: number
  dead: number
}

/** Dead bytes of each pack (file size less indexed bytes), as compactPacks sees them. */
function deadBytesByPack(store: Store): PackDead[] {
  const rows = store.db.prepare(`SELECT p.id, p.size, coalesce(sum(b.length), 0) AS live FROM packs p
    LEFT JOIN blocks b ON b.pack = p.id GROUP BY p.id`).all() as Array<{id: number; size: number; live: number}>
  const out: PackDead[] = []
  for (const row of rows) {
    let file = row.size
    try {
      file = statSync(store.blocks.packPath(row.id)).size
    } catch {}
    if (file < row.size) continue // damage for `polar repair`, not space
    if (file > row.live) out.push({id: row.id, file, dead: file - row.live})
  }
  return out
}

const compacts = (d: PackDead) => d.dead >= COMPACT_MIN_DEAD_BYTES && d.dead >= d.file * GC_DEAD_RATIO
